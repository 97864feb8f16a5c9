"""trainer.metrics: Laplacian pyramid, multi-scale SWD (and its ratio to real-vs-real), seams,
diversity under mode collapse, held-out split and crops. Small sizes so the file runs in seconds."""
from __future__ import annotations

import json

import numpy as np
import pytest

from blender_texgan.core.maps import stack_channels
from trainer import metrics as M
from trainer.data import CropSampler, DataError
from trainer.procedural import make_material, periodic_noise

SIZE, COUNT = 32, 16


def crops(stack, size: int, count: int, seed: int) -> np.ndarray:
    """Crops inside one (C, H, W) stack, drawn as training and metric crops are (trainer.data.CropSampler)."""
    return CropSampler([stack], size, seed=[seed], wrap=[False]).sample(count)


@pytest.fixture(scope="module")
def sets():
    """Crops of one cobblestone exemplar (train region twice, held-out region), and impostors."""
    tex = stack_channels(make_material("cobblestones", 1, 192))
    other = stack_channels(make_material("bricks", 2, 192))
    train, held = M.holdout_split(tex, 0.25)
    rng = np.random.default_rng(0)
    ref, ref2, heldout, bricks = (crops(s, SIZE, COUNT, seed) for seed, s in enumerate((train, train, held, other)))
    noise = rng.uniform(0, 1, ref.shape).astype(np.float32)
    # Mode collapse with shifts: one crop, circularly rolled by random offsets.
    collapsed = np.stack([np.roll(ref[0], tuple(rng.integers(0, SIZE, 2)), axis=(1, 2)) for _ in range(COUNT)])
    return {"ref": ref, "ref2": ref2, "heldout": heldout, "noise": noise, "bricks": bricks,
            "collapsed": collapsed}


def test_pyramid_shapes_wraps_and_collapses_exactly():
    rng = np.random.default_rng(0)
    batch = rng.uniform(0, 1, (2, 5, 32, 32)).astype(np.float32)
    pyr = M.laplacian_pyramid(batch, 3)
    assert [p.shape for p in pyr] == [(2, 5, 32, 32), (2, 5, 16, 16), (2, 5, 8, 8)]
    assert np.allclose(M.laplacian_collapse(pyr), batch, atol=1e-10)
    # Periodic borders: rolling by a multiple of the coarsest stride rolls every level.
    rolled = M.laplacian_pyramid(np.roll(batch, (8, 12), axis=(2, 3)), 3)
    for k, (a, b) in enumerate(zip(pyr, rolled)):
        assert np.allclose(np.roll(a, (8 >> k, 12 >> k), axis=(2, 3)), b, atol=1e-10)
    # The low-pass residual keeps the mean; band-pass levels have (almost) none.
    assert np.allclose(pyr[-1].mean(axis=(2, 3)), batch.mean(axis=(2, 3)), atol=1e-6)
    assert M.max_levels(32, 32) == 2 and M.max_levels(64, 48) == 2 and M.max_levels(128, 128) == 4


@pytest.mark.parametrize("shape", [(2, 3, 32, 48), (1, 2, 33, 17), (1, 1, 3, 2)])
def test_pyramid_steps_are_their_definitions(shape):
    """The pyramid's steps computed where they are kept (the blur at the kept rows and columns; the
    upsampling without its inserted zeros), against what they are defined as: the same figures."""
    x = np.random.default_rng(sum(shape)).random(shape)

    def blur(a):
        for axis in (-2, -1):
            a = (6.0 * a + 4.0 * (np.roll(a, 1, axis) + np.roll(a, -1, axis))
                 + (np.roll(a, 2, axis) + np.roll(a, -2, axis))) / 16.0
        return a

    assert np.array_equal(M._blur(x), blur(x))
    low = M._downsample(x)
    assert np.array_equal(low, blur(x)[..., ::2, ::2])
    up = np.zeros(x.shape)
    up[..., ::2, ::2] = low
    assert np.array_equal(M._upsample(low, x.shape[-2:]), 4.0 * blur(up))


def test_swd_separates_real_from_noise_and_another_texture(sets):
    held, ref = sets["heldout"], sets["ref"]
    swd_ref, per_level = M.sliced_wasserstein(ref, held, seed=0, return_levels=True)
    swd_real = M.sliced_wasserstein(sets["ref2"], held, seed=0)
    swd_noise = M.sliced_wasserstein(sets["noise"], held, seed=0)
    swd_bricks = M.sliced_wasserstein(sets["bricks"], held, seed=0)
    assert len(per_level) == 2 and swd_ref == pytest.approx(np.mean(per_level))
    # measured: real 0.34, reference 0.41, noise 3.1, bricks 0.78
    assert swd_noise > 5 * max(swd_real, swd_ref)
    assert swd_bricks > 1.5 * max(swd_real, swd_ref)
    real_ratio = swd_real / swd_ref
    assert 0.6 < real_ratio < 1.5                         # measured 0.84
    assert swd_noise / swd_ref > 4                          # measured 7.7
    assert swd_bricks / swd_ref > 1.4                       # measured 1.9
    assert M.swd_ratio(sets["ref2"], held, ref, seed=0) == pytest.approx(real_ratio)


def test_seam_ratio_periodic_vs_cropped_smooth_field():
    rng = np.random.default_rng(3)
    periodic = np.moveaxis(periodic_noise(rng, 64, beta=2.0, channels=3), -1, 0)[None] * 0.1 + 0.5
    tex = stack_channels(make_material("cobblestones", 4, 128))[None]
    assert M.seam_ratio_batch(periodic) == pytest.approx(1.0, abs=0.3)     # measured 1.0
    assert M.seam_ratio_batch(tex) == pytest.approx(1.0, abs=0.3)          # measured 1.0
    field = np.moveaxis(periodic_noise(rng, 256, beta=3.0, channels=3), -1, 0) * 0.1 + 0.5
    assert M.seam_ratio_batch(crops(field, 48, 8, 5)) > 2.0                 # measured 7.5


def test_diversity_real_vs_collapsed_with_shifts(sets):
    real = M.diversity_ratio(sets["ref2"], sets["ref"])
    collapsed = M.diversity_ratio(sets["collapsed"], sets["ref"])
    assert 0.6 < real < 1.6                                                 # measured 0.88
    assert collapsed < 0.3                                                  # measured 0.11
    # Pixel L1 would call the shifted copies as diverse as real crops; the descriptor does not.
    l1 = lambda b: np.mean([np.abs(x - y).mean() for i, x in enumerate(b) for y in b[i + 1:]])
    assert l1(sets["collapsed"]) > 0.5 * l1(sets["ref"])
    d = M.texture_descriptor(sets["ref"][:2])
    shifted = M.texture_descriptor(np.roll(sets["ref"][:2], (4, 8), axis=(2, 3)))
    assert np.allclose(d, shifted, atol=1e-6)


def test_evaluate_is_deterministic_and_json_safe(sets):
    a = M.evaluate(sets["noise"], sets["heldout"], sets["ref"], seed=0)
    b = M.evaluate(sets["noise"], sets["heldout"], sets["ref"], seed=0)
    c = M.evaluate(sets["noise"], sets["heldout"], sets["ref"], seed=1)
    assert set(a) == {"swd", "swd_real", "swd_ratio", "seam_ratio", "diversity_ratio"}
    assert a == b and json.loads(json.dumps(a)) == a
    assert all(type(v) is float and np.isfinite(v) for v in a.values())
    assert a["swd"] != c["swd"] and a["swd_ratio"] == pytest.approx(c["swd_ratio"], rel=0.3)
    assert a["swd_ratio"] > 3


def test_holdout_split_and_crop_sampler():
    stack = np.arange(2 * 40 * 30, dtype=np.float32).reshape(2, 40, 30)
    train, held = M.holdout_split(stack, 0.25)
    assert train.shape == (2, 30, 30) and held.shape == (2, 10, 30)
    assert np.array_equal(np.concatenate([train, held], axis=1), stack)
    with pytest.raises(ValueError):
        M.holdout_split(stack, 1.0)

    held_crops = CropSampler([held], 8, seed=0, wrap=[False]).sample(20)
    assert held_crops.shape == (20, 2, 8, 8) and held_crops.dtype == np.float32
    assert held_crops.min() >= held.min() and held_crops.max() <= held.max()   # never reaches the train rows
    # Every crop is a contiguous window of the stack.
    for c in held_crops:
        y, x = divmod(int(c[0, 0, 0]), 30)
        assert np.array_equal(c, stack[:, y:y + 8, x:x + 8])
    assert np.array_equal(held_crops, CropSampler([held], 8, seed=0, wrap=[False]).sample(20))

    wrapped = CropSampler([stack, stack + 1e4], 16, seed=1, wrap=[True, True]).sample(30)
    assert wrapped.shape == (30, 2, 16, 16)
    assert (wrapped.max(axis=(1, 2, 3)) >= 1e4).any() and (wrapped.max(axis=(1, 2, 3)) < 1e4).any()
    with pytest.raises(DataError):  # every stack smaller than the crop
        CropSampler([held], 16, seed=0, wrap=[False])


def test_constant_real_channels_are_left_out():
    from trainer.metrics import evaluate
    rng = np.random.default_rng(0)
    real_a = rng.random((8, 2, 32, 32))
    real_b = rng.random((8, 2, 32, 32))
    real_a[:, 1] = 0.5
    real_b[:, 1] = 0.5
    fake = rng.random((8, 2, 32, 32))  # channel 1 varies where the real data is constant
    both = evaluate(fake, real_a, real_b)
    only_first = evaluate(fake[:, :1], real_a[:, :1], real_b[:, :1])
    assert both["swd_ratio"] == pytest.approx(only_first["swd_ratio"])


def test_grid_ratio_sees_a_cell_grid_and_rolled_borders_leave_it():
    from blender_texgan.core.latent import grid_offset
    from trainer.metrics import grid_ratio

    rng = np.random.default_rng(0)
    smooth = np.cumsum(rng.standard_normal((4, 3, 64, 64)), axis=-1) * 0.01
    smooth -= smooth.mean(axis=-1, keepdims=True) * np.linspace(0, 1, 64)  # keep it near periodic
    assert grid_ratio(smooth, 16) == pytest.approx(1.0, abs=0.35)
    blocky = smooth.copy()
    blocky[..., ::16] += 0.2 * rng.standard_normal((4, 3, 64, 4)).repeat(1, axis=-1)  # steps on cell lines
    assert grid_ratio(blocky, 16) > 2.0
    offsets = {grid_offset(seed, 16) for seed in range(200)}
    assert all(0 <= dy < 16 and 0 <= dx < 16 for dy, dx in offsets) and len(offsets) > 100
    assert grid_offset(7, 16) == grid_offset(7, 16)


def test_quality_bar_holds_at_its_thresholds_and_fails_past_them():
    at_bar = {"swd_ratio": 1.5, "seam_ratio": 1.05, "diversity_ratio": 0.7}
    assert M.meets_bar(at_bar)
    for key, worse in (("swd_ratio", 1.51), ("seam_ratio", 1.06), ("diversity_ratio", 0.69)):
        assert not M.meets_bar({**at_bar, key: worse}), key
    assert not M.meets_bar({"swd_ratio": 1.0, "seam_ratio": 1.0})  # a missing metric fails


def test_real_vs_real_is_measured_once_per_content():
    """The reference-vs-held-out figures are computed once per content and options (an export scores
    every mode against the same real crops); other content or options measure again."""
    rng = np.random.default_rng(3)
    ref, held = rng.random((2, 3, 40, 40)), rng.random((2, 3, 40, 40))
    calls = []

    def metric(a, b, **options):
        calls.append(options)
        return M.sliced_wasserstein(a, b, **options)

    first = M.real_vs_real(metric, ref, held, seed=1)
    assert first == M.sliced_wasserstein(ref, held, seed=1)
    assert M.real_vs_real(metric, ref.copy(), held.copy(), seed=1) == first and len(calls) == 1
    M.real_vs_real(metric, ref, held, seed=2)
    changed = held.copy()
    changed[0, 0, 0, 0] += 1e-9
    M.real_vs_real(metric, ref, changed, seed=1)
    assert len(calls) == 3
