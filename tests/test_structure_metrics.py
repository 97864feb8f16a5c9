"""trainer.metrics' structure-aware metrics: band-pass marginals, coarse SWD, structure_metrics and
verbatim_copy_extent. Real sets are crops of one procedural brick exemplar (bricks 24 - 48 px high);
the impostors keep some statistics of the real crops and lose the structure. A few seconds in all."""
from __future__ import annotations

import json
from collections import deque

import numpy as np
import pytest

from blender_texgan.core.maps import stack_channels
from trainer import metrics as M
from trainer.data import CropSampler
from trainer.procedural import make_material

CROP, COUNT = 128, 32  # large crops: 4x shrunk they are still 32 px, so 7x7 patches cover whole bricks


def block_shuffle(batch: np.ndarray, rng: np.random.Generator, block: int = 16) -> np.ndarray:
    """Every image's block x block tiles in a random order: fine statistics stay, the layout goes."""
    n, c, h, w = batch.shape
    tiles = batch.reshape(n, c, h // block, block, w // block, block).transpose(0, 2, 4, 1, 3, 5)
    tiles = tiles.reshape(n, -1, c, block, block)
    tiles = np.stack([t[rng.permutation(len(t))] for t in tiles])
    return tiles.reshape(n, h // block, w // block, c, block, block).transpose(0, 3, 1, 4, 2, 5).reshape(batch.shape)


def phase_noise(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise with every image's power spectrum (so its variance and mean) and random phases;
    one phase field per image for all channels, so colours stay correlated."""
    spectrum = np.fft.fft2(batch, axes=(-2, -1))
    phase = np.angle(np.fft.fft2(rng.standard_normal((len(batch), 1) + batch.shape[-2:]), axes=(-2, -1)))
    phase[..., 0, 0] = 0.0  # keep the mean
    return np.fft.ifft2(np.abs(spectrum) * np.exp(1j * phase), axes=(-2, -1)).real


@pytest.fixture(scope="module")
def sets():
    """Crops of one brick exemplar (reference, real, held out) and impostors made from the real crops."""
    tex = stack_channels(make_material("bricks", 1, 1024))
    train, held = M.holdout_split(tex, 0.25)
    rng = np.random.default_rng(0)
    ref, real, heldout = (CropSampler([s], CROP, seed=[i], wrap=[False]).sample(COUNT)
                          for i, s in enumerate((train, train, held)))
    return {"ref": ref, "real": real, "heldout": heldout, "blur": M._blur(M._blur(real)),
            "noise": phase_noise(real, rng), "shuffled": block_shuffle(real, rng)}


def bandpass_ratio(sets, name: str, channel: int | None) -> float:
    """bandpass_marginals of a set against the held-out crops, over that of the reference crops."""
    value = M.bandpass_marginals(sets[name], sets["heldout"], channel=channel)[0]
    return value / M.bandpass_marginals(sets["ref"], sets["heldout"], channel=channel)[0]


def test_bandpass_marginals_levels_and_identity(sets):
    mean, per_level = M.bandpass_marginals(sets["real"], sets["heldout"])
    assert len(per_level) == 4 and mean == pytest.approx(np.mean(per_level))  # 128 px: bands down to 16 px
    assert M.bandpass_marginals(sets["real"], sets["real"])[0] == 0.0
    assert len(M.bandpass_marginals(sets["real"], sets["heldout"], levels=3)[1]) == 2
    with pytest.raises(ValueError, match="channel"):
        M.bandpass_marginals(sets["real"], sets["heldout"][:, :3])


@pytest.mark.parametrize("channel", [None, 3], ids=["luminance", "height"])
def test_bandpass_real_is_about_one_blur_and_matched_noise_are_not(sets, channel):
    real = bandpass_ratio(sets, "real", channel)
    blur = bandpass_ratio(sets, "blur", channel)
    noise = bandpass_ratio(sets, "noise", channel)
    # measured (luminance / height): real 1.09 / 0.82, blur 6.5 / 7.2, noise 6.2 / 7.1; over other
    # crop seeds real 0.4 - 1.5, blur and noise always > 2.8 and > 3x real
    assert 0.4 < real < 2.5
    assert blur > 3.0 and blur > 3.0 * real
    assert noise > 2.5 and noise > 2.5 * real


def test_coarse_swd_sees_a_block_shuffle(sets):
    held, ref = sets["heldout"], sets["ref"]
    baseline = M.coarse_swd(ref, held)
    real = M.coarse_swd(sets["real"], held) / baseline
    shuffled = M.coarse_swd(sets["shuffled"], held) / baseline
    # measured (32 crops): real 1.62, shuffled 2.69; with 16 crops real-vs-real wandered 0.7 - 1.6
    assert 0.5 < real < 2.0
    assert shuffled > 1.3 * real
    assert M.shrink_images(ref).shape == (COUNT, 5, CROP // 4, CROP // 4)


def test_structure_metrics_dict(sets):
    out = M.structure_metrics(sets["shuffled"], sets["heldout"], sets["ref"], seed=0)
    for part in ("bandpass_albedo", "bandpass_height", "coarse_swd"):
        assert part in out and part + "_real" in out
    for part in ("albedo", "height"):
        ratio = out[f"bandpass_{part}"] / out[f"bandpass_{part}_real"]
        assert out[f"bandpass_ratio_{part}"] == pytest.approx(ratio)
    assert out["coarse_swd_ratio"] == pytest.approx(out["coarse_swd"] / out["coarse_swd_real"])
    assert out["coarse_swd_ratio"] > 1.3 and out["bandpass_ratio_albedo"] > 2.0
    json.dumps(out)
    # No key clashes with evaluate's, so a caller can merge the two dicts.
    assert not set(out) & {"swd", "swd_real", "swd_ratio", "seam_ratio", "diversity_ratio"}


def test_structure_metrics_without_height(sets):
    flat = sets["heldout"].copy()
    flat[:, 3] = 0.5
    ref = sets["ref"].copy()
    ref[:, 3] = 0.5
    out = M.structure_metrics(sets["real"][:4, :, :64, :64], flat[:4, :, :64, :64], ref[:4, :, :64, :64])
    assert "bandpass_ratio_height" not in out and "bandpass_ratio_albedo" in out
    rgb = M.structure_metrics(sets["real"][:4, :3, :64, :64], flat[:4, :3, :64, :64], ref[:4, :3, :64, :64])
    assert "bandpass_ratio_height" not in rgb and "coarse_swd_ratio" in rgb


# ---------------------------------------------------------------- verbatim copies

def _positions(h: int, w: int) -> np.ndarray:
    """(h, w, 2) pixel positions (y, x): the identity coordinate field."""
    return np.stack(np.meshgrid(np.arange(h), np.arange(w), indexing="ij"), axis=-1)


def test_verbatim_extent_identity_random_and_blocks():
    assert M.verbatim_copy_extent(_positions(64, 64), (64, 64)) == 64.0
    shifted = np.mod(_positions(48, 80) + [30, 70], (64, 64))  # one rigid copy that wraps the exemplar
    assert M.verbatim_copy_extent(shifted, (64, 64)) == pytest.approx(np.sqrt(48 * 80))
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (128, 128, 2))
    assert M.verbatim_copy_extent(noise, (256, 256)) < 2.0
    offsets = np.repeat(np.repeat(rng.integers(0, 512, (8, 8, 2)), 16, axis=0), 16, axis=1)
    blocks = np.mod(_positions(128, 128) + offsets, 512)
    assert M.verbatim_copy_extent(blocks, (512, 512)) == 16.0
    with pytest.raises(ValueError, match="coordinate field"):
        M.verbatim_copy_extent(np.zeros((8, 8)), (8, 8))


def _largest_component_flood_fill(keys: np.ndarray) -> int:
    """Reference: pixel count of the largest 4-connected region of equal keys, by breadth-first search."""
    h, w = keys.shape
    seen = np.zeros_like(keys, bool)
    best = 0
    for start in zip(*np.nonzero(~seen)):
        if seen[start]:
            continue
        seen[start], queue, size = True, deque([start]), 0
        while queue:
            y, x = queue.popleft()
            size += 1
            for ny, nx in ((y + 1, x), (y - 1, x), (y, x + 1), (y, x - 1)):
                if 0 <= ny < h and 0 <= nx < w and not seen[ny, nx] and keys[ny, nx] == keys[y, x]:
                    seen[ny, nx] = True
                    queue.append((ny, nx))
        best = max(best, size)
    return best


def test_verbatim_extent_matches_a_flood_fill_on_tangled_regions():
    rng = np.random.default_rng(1)
    for _ in range(5):
        keys = rng.integers(0, 2, (24, 31))  # two offsets only: long, winding, branching regions
        coords = _positions(24, 31) + np.stack([keys * 5, keys * 0], axis=-1)
        expected = np.sqrt(_largest_component_flood_fill(keys))
        assert M.verbatim_copy_extent(coords, (100, 100)) == pytest.approx(expected)
