"""core.infinite (the infinite material's images and the numpy reference of its node group) and
trainer.repetition, without Blender (issue 24)."""
from __future__ import annotations

import numpy as np
import pytest

from blender_texgan.core import infinite
from blender_texgan.core.synthesis import tiling_blend
from trainer.repetition import repetition_ratio


def noise_exemplar(size: int = 96, seed: int = 0) -> np.ndarray:
    """A smooth, non-repeating (H, W, 5) stack: correlated colour blobs, height and roughness."""
    rng = np.random.default_rng(seed)
    base = rng.random((size + 6, size + 6, 3))
    smooth = sum(base[dy:dy + size, dx:dx + size] for dy in range(0, 6, 2) for dx in range(0, 6, 2)) / 9
    stack = np.empty((size, size, 5), np.float32)
    stack[..., :3] = np.clip((smooth - 0.5) * 2.5 + 0.5, 0, 1) * np.array([1.0, 0.8, 0.6])
    stack[..., 3] = smooth[..., 0]
    stack[..., 4] = 1.0 - smooth[..., 1]
    return stack


@pytest.fixture(scope="module")
def prepared():
    return infinite.prepare(noise_exemplar())


def grid(n: int, step: float, scale: float, width: int):
    """Coordinates (metres) of an n x n grid `step` exemplar pixels apart, for an exemplar `scale` m wide."""
    c = (np.arange(n) + 0.5) * step * scale / width
    x, y = np.meshgrid(c, c[::-1])
    return x, y


def test_white_noise_is_deterministic_and_uniform():
    i, j = np.meshgrid(np.arange(-50, 50, dtype=np.float32), np.arange(-50, 50, dtype=np.float32))
    a, b = infinite.white_noise_color(i, j, 3.0), infinite.white_noise_color(i, j, 3.0)
    assert np.array_equal(a, b) and a.shape == (100, 100, 3)
    assert a.min() >= 0 and a.max() <= 1 and abs(a.mean() - 0.5) < 0.01 and abs(a.std() - 12 ** -0.5) < 0.01
    other = infinite.white_noise_color(i, j, 4.0)
    assert np.abs(other - a).mean() > 0.2  # another seed, other offsets
    assert abs(np.corrcoef(a[..., 0].ravel(), a[..., 1].ravel())[0, 1]) < 0.03


def test_reference_is_the_tiling_blend_operator_with_the_same_tables(prepared):
    """Closest reads: the reference's blend and table lookup are core.synthesis.tiling_blend's, exactly."""
    stack = noise_exemplar()
    analysis = tiling_blend.analyse(infinite.linear_albedo(stack), infinite.CURVE_POINTS)
    h, w = prepared.shape
    x, y = grid(40, 1.37, 0.5, w)
    ours = infinite.evaluate(prepared, x, y, 0.5, 7, interpolation="Closest")
    px, py = x * w / 0.5, y * w / 0.5
    vi, vj, weights = infinite.triangle(px, py, prepared.cell)
    ox, oy = infinite.vertex_offsets(prepared, vi, vj, 7)
    vx, vy = infinite.vertex_pixels(prepared, vi, vj)
    u, v = (px[..., None] - vx + ox) / w, (py[..., None] - vy + oy) / h
    rows, cols = h - 1 - np.floor(v * h).astype(np.int64), np.floor(u * w).astype(np.int64)
    assert rows.min() >= 0 and cols.min() >= 0 and rows.max() < h and cols.max() < w  # reads inside the margins
    theirs = tiling_blend._blend(analysis, weights.astype(np.float32), rows, cols)
    assert np.abs(ours - theirs).max() < 0.5 / 255  # the Gaussian images are stored on 16-bit steps
    # The group's tables are curves of CURVE_POINTS points: within an 8-bit step of tiling and
    # blending's own LUT_SIZE-entry tables.
    finer = tiling_blend._blend(tiling_blend.analyse(infinite.linear_albedo(stack)), weights.astype(np.float32),
                                rows, cols)
    assert np.abs(ours - finer).max() < 1 / 255 and np.abs(ours - finer).mean() < 0.1 / 255


def test_blend_keeps_the_histogram_and_copies_stay_aligned(prepared):
    stack = infinite.linear_albedo(noise_exemplar())  # the group's albedo is linear
    w = prepared.shape[1]
    out = infinite.evaluate(prepared, *grid(160, 1.0, 1.0, w), 1.0, 0)
    for k in range(5):  # histogram preserving: spread kept (a linear blend loses a quarter or more)
        assert out[..., k].std() / stack[..., k].std() > 0.85, k
        assert abs(out[..., k].mean() - stack[..., k].mean()) < 0.05, k
    # every map goes through the same offsets and weights: height still follows red as in the exemplar
    assert np.corrcoef(out[..., 0].ravel(), out[..., 3].ravel())[0, 1] > 0.8


def test_no_lines_where_the_offsets_change(prepared):
    """Linear reads of the Gaussian images: the step between neighbouring points across a triangle
    edge is no larger than inside triangles (Closest reads would jump there)."""
    w = prepared.shape[1]
    x, y = grid(200, 0.5, 1.0, w)
    out = infinite.evaluate(prepared, x, y, 1.0, 2)[..., 0]
    vi, vj, _ = infinite.triangle(x * w, y * w, prepared.cell)
    changes = np.any(vi[:, 1:] != vi[:, :-1], axis=-1) | np.any(vj[:, 1:] != vj[:, :-1], axis=-1)
    step = np.abs(np.diff(out, axis=1))
    assert changes.mean() > 0.01
    assert step[changes].mean() < 1.3 * step[~changes].mean()


def test_a_copy_changes_vertex_only_where_its_weight_is_zero(prepared):
    """The slots are the lattice's colours: a slot's vertex, so its copy's read position, changes only
    between points where its weight is zero, up to the step between them (EEVEE picks mip levels from
    the read position's screen derivatives, which jump where it changes)."""
    w = prepared.shape[1]
    step = 0.25                                                  # exemplar pixels between points
    x, y = grid(400, step, 1.0, w)
    vi, vj, weights = infinite.triangle(x * w, y * w, prepared.cell)
    assert np.array_equal(np.mod(vi - vj, 3), np.broadcast_to(np.arange(3.0), vi.shape))
    assert np.allclose(weights.sum(-1), 1.0) and weights.min() >= 0
    bound = 1.01 * step / (prepared.cell * infinite.ROW_FACTOR)  # a weight's change over one step
    changes = 0
    for axis in (0, 1):
        moved = (np.diff(vi, axis=axis) != 0) | (np.diff(vj, axis=axis) != 0)
        first = weights[:-1] if axis == 0 else weights[:, :-1]
        second = weights[1:] if axis == 0 else weights[:, 1:]
        assert np.maximum(first, second)[moved].max() <= bound
        changes += moved.sum()
    assert changes > 1000


def test_seed_scale_and_sharpness(prepared):
    w = prepared.shape[1]
    x, y = grid(48, 1.0, 1.0, w)
    a, again = infinite.evaluate(prepared, x, y, 1.0, 1), infinite.evaluate(prepared, x, y, 1.0, 1)
    assert np.array_equal(a, again)
    assert np.abs(infinite.evaluate(prepared, x, y, 1.0, 2) - a).mean() > 0.02
    assert np.allclose(infinite.evaluate(prepared, 2 * x, 2 * y, 2.0, 1), a, atol=1e-5)  # Scale: exemplar width in metres
    weights = np.array([[0.6, 0.3, 0.1]])
    assert np.allclose(infinite.blend_weights(weights, 1.0), weights)
    assert infinite.blend_weights(weights, 8.0)[0, 0] > 0.99


def test_images_are_seed_independent_float_data(prepared):
    h, w = prepared.shape
    assert prepared.gauss_albedo.shape == (h, w, 3) and prepared.relief.shape == (h, w, 4)
    assert np.allclose(np.linalg.norm(infinite.unit_normal(prepared.relief[..., 2:]), axis=-1), 1.0)
    assert prepared.lut.shape == (5, infinite.CURVE_POINTS) and np.all(np.diff(prepared.lut, axis=1) >= 0)
    g = infinite.decode_gaussian(prepared.gauss_albedo)
    assert prepared.gauss_albedo.dtype == np.float32 and g.min() < -2 and g.max() > 2  # Gaussian values
    assert np.array_equal(np.rint(prepared.gauss_albedo * 65535) / 65535, prepared.gauss_albedo)  # 16-bit steps
    assert infinite.prepare(noise_exemplar()).key == prepared.key != infinite.prepare(noise_exemplar(seed=1)).key
    with pytest.raises(ValueError, match="exemplar"):
        infinite.prepare(np.zeros((4, 4, 5), np.float32))


def test_structured_hint_follows_the_models_default_mode():
    assert infinite.structured_hint({"exemplar": {"default_mode": "random"}}).startswith("Tiling and blending ghosts")
    assert infinite.structured_hint({"exemplar": {"height": 8}})  # refined: coordinate synthesis too
    assert infinite.structured_hint({"exemplar": {"default_mode": "blend"}}) == ""
    assert infinite.structured_hint({"kind": "translator"}) == "" and infinite.structured_hint(None) == ""


def test_repetition_measure_fails_a_tiled_bake_and_passes_the_infinite_material(prepared):
    stack = noise_exemplar()
    w = prepared.shape[1]
    tile = 48  # the bake's tile period, in exemplar pixels
    bake = tiling_blend.synthesize(tiling_blend.analyse(stack), tile, tile, 0)
    tiled = np.tile(bake, (5, 5, 1))[..., :3]
    endless = infinite.evaluate(prepared, *grid(5 * tile, 1.0, 1.0, w), 1.0, 0)[..., :3]
    photo = stack[..., :3]
    bad = repetition_ratio(tiled, tile, photo, tile)
    good = repetition_ratio(endless, tile, photo, tile)
    assert bad["peak"] > 0.9 and bad["ratio"] > 5
    assert good["ratio"] <= 1.2, good


def test_results_sections_keep_each_other(tmp_path):
    """scripts/infinite_renders.py and scripts/infinite_eevee.py write one results file: each
    replaces its own section and keeps the others' and the hand-written ones."""
    from scripts.infinite_renders import write_section

    path = tmp_path / "infinite.txt"
    path.write_text("intro\n\n## renders\nold renders\n\n## by hand\nkept\n")
    write_section(path, "EEVEE", ["eevee 1"])
    write_section(path, "renders", ["new renders", "more"])
    write_section(path, "EEVEE", ["eevee 2"])
    assert path.read_text() == "intro\n\n## renders\nnew renders\nmore\n\n## by hand\nkept\n\n## EEVEE\neevee 2\n"
