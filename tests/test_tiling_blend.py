"""blender_texgan.core.synthesis.tiling_blend: the periodic tiling-and-blending baseline (Heitz & Neyret 2018),
and scripts/tiling_blend.py over a folder. Procedural fixtures only, small sizes: runs in seconds."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from blender_texgan.core.maps import stack_channels
from blender_texgan.core.synthesis import tiling_blend as TB
from blender_texgan.core.tiling import seam_ratio
from trainer.metrics import verbatim_copy_extent
from trainer.procedural import make_material

ROOT = Path(__file__).resolve().parent.parent


def _exemplar(preset: str = "bricks", seed: int = 1, size: int = 128) -> np.ndarray:
    """A procedural (H, W, 5) exemplar stack."""
    return np.moveaxis(stack_channels(make_material(preset, seed, size)), 0, -1)


@pytest.fixture(scope="module")
def bricks():
    """A brick exemplar and its analysis."""
    ex = _exemplar()
    return ex, TB.analyse(ex)


def test_analysis_gaussianises_and_inverts(bricks):
    ex, an = bricks
    assert an.gaussian.shape == ex.shape and an.gaussian.dtype == np.float32
    g = an.gaussian.reshape(-1, 5)
    assert np.allclose(g.mean(0), 0.0, atol=0.05) and np.allclose(g.std(0), 1.0, atol=0.1)
    # PCA components are uncorrelated; the basis is orthonormal.
    comps = TB.albedo_pca(ex.reshape(-1, 5)[:, :3])[0]
    cov = np.cov(comps.T)
    assert np.allclose(cov - np.diag(np.diag(cov)), 0.0, atol=1e-6)
    assert np.allclose(an.pca_basis.T @ an.pca_basis, np.eye(3), atol=1e-5)
    # Through the lookup table, the Gaussian values give the exemplar's values back.
    grid = np.linspace(-TB.GAUSS_RANGE, TB.GAUSS_RANGE, an.lut.shape[1])
    height = np.interp(g[:, 3], grid, an.lut[3])
    assert np.abs(height - ex[..., 3].ravel()).mean() < 0.01


def test_ranking_by_levels_equals_ranking_every_pixel():
    """gaussianise from level_index's levels (8-bit colours' PCA components, 16-bit height) gives what
    sorting every pixel gives, bit for bit; levels that do not fix the values fall back to the sort."""
    rng = np.random.default_rng(4)
    colours = rng.integers(0, 256, (5000, 3)) * rng.integers(0, 2, (5000, 1))   # repeats and blacks
    albedo = (colours.astype(np.float32) / 255.0)
    height = (rng.integers(0, 65536, (5000, 1)) // 7 * 7).astype(np.float32) / 65535.0
    comps = TB.albedo_pca(albedo)[0]
    colour_levels, height_levels = TB.level_index(albedo, 255), TB.level_index(height, 65535)
    assert colour_levels[1] == len(np.unique(colours, axis=0))
    noisy = albedo[:, 0] + rng.normal(0, 1e-4, 5000).astype(np.float32)             # levels hold many values
    for values, levels in ((comps[:, 0], colour_levels), (comps[:, 2], colour_levels),
                           (height[:, 0], height_levels), (noisy, colour_levels)):
        for got, want in zip(TB.gaussianise(values, 64, levels), TB.gaussianise(values, 64)):
            assert got.tobytes() == want.tobytes()
    for values in (comps[:, 1], height[:, 0], noisy, np.zeros(7), np.arange(3.0)):   # the table: np.quantile's
        q = TB._normal_cdf(np.linspace(-TB.GAUSS_RANGE, TB.GAUSS_RANGE, 64))
        assert TB.gaussianise(values, 64)[1].tobytes() == np.quantile(values, q).astype(np.float32).tobytes()
    g, _ = TB.gaussianise(comps[:, 0], 64, colour_levels)
    same_colour = np.flatnonzero((colours == colours[0]).all(axis=1))
    assert len(same_colour) > 1 and len(np.unique(g[same_colour])) == 1


def test_output_shape_range_and_exact_periodicity(bricks):
    _, an = bricks
    out = TB.synthesize(an, 96, 80, seed=3)
    assert out.shape == (96, 80, 5) and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0
    lattice = TB.make_lattice(96, 80, TB.default_cell(an.exemplar_shape))
    assert lattice.ny % 2 == 0 and lattice.nx >= 1
    ys, xs = np.meshgrid(np.arange(-96, 192), np.arange(-80, 160), indexing="ij")
    f = TB.synthesize_at(an, lattice, 3, ys, xs)
    assert np.array_equal(f[96:192, 80:160], out)            # synthesize == synthesize_at on [0, H) x [0, W)
    for dy, dx in ((0, 80), (96, 0), (96, 80), (-96, -80)):  # f(y + H, x) == f(y, x) etc., bit for bit
        assert np.array_equal(f[96 + dy:192 + dy, 80 + dx:160 + dx], out)
    assert seam_ratio(out) == pytest.approx(1.0, abs=0.3)            # measured 0.85


def test_odd_sizes_and_cells_tile_too(bricks):
    _, an = bricks
    for h, w, cell in ((37, 53, 11.0), (64, 64, 5.5), (50, 30, 200.0)):
        lattice = TB.make_lattice(h, w, cell)
        ys, xs = np.meshgrid(np.arange(2 * h), np.arange(2 * w), indexing="ij")
        f = TB.synthesize_at(an, lattice, 9, ys, xs)
        assert np.array_equal(f[h:, w:], f[:h, :w]) and np.array_equal(f[:h, w:], f[h:, :w])


def test_deterministic_per_seed_and_seeds_differ(bricks):
    _, an = bricks
    a = TB.synthesize(an, 64, 64, seed=7)
    assert np.array_equal(a, TB.synthesize(an, 64, 64, seed=7))
    assert np.abs(a - TB.synthesize(an, 64, 64, seed=8)).mean() > 0.02


def test_histograms_match_the_exemplar(bricks):
    ex, an = bricks
    out = TB.synthesize(an, 256, 256, seed=0).reshape(-1, 5)
    ref = ex.reshape(-1, 5)
    # measured: |mean diff| <= 0.015, std ratio 0.89 .. 0.99, quantile error <= 0.014
    assert np.allclose(out.mean(0), ref.mean(0), atol=0.04)
    assert np.allclose(out.std(0) / ref.std(0), 1.0, atol=0.15)
    for c in range(5):
        q = np.linspace(0.05, 0.95, 19)
        assert np.abs(np.quantile(out[:, c], q) - np.quantile(ref[:, c], q)).mean() < 0.05


def test_maps_stay_aligned():
    """Height copied from the albedo's red channel stays (almost) equal to it after synthesis."""
    ex = _exemplar("cobblestones", 2, 96)
    ex[..., 3] = ex[..., 0]
    out = TB.synthesize(TB.analyse(ex), 96, 96, seed=1)
    corr = np.corrcoef(out[..., 0].ravel(), out[..., 3].ravel())[0, 1]
    assert corr > 0.999                                          # measured 0.99999
    assert np.abs(out[..., 0] - out[..., 3]).mean() < 0.005      # measured 0.0003


def test_reads_stay_inside_the_exemplar_and_copies_span_a_cell():
    shape = (120, 90)
    lattice = TB.make_lattice(100, 100, TB.default_cell(shape))
    offsets = TB.vertex_offsets(lattice, shape, seed=4)
    ys, xs = np.meshgrid(np.arange(100), np.arange(100), indexing="ij")
    weights, ry, rx = TB.vertex_reads(lattice, offsets, shape, ys, xs)
    assert np.allclose(weights.sum(-1), 1.0, atol=1e-6) and weights.min() >= 0.0
    # Offsets keep every vertex's footprint inside the exemplar: no read needs to wrap around.
    assert ry.min() >= 0 and ry.max() < shape[0] and rx.min() >= 0 and rx.max() < shape[1]
    coords = TB.source_coordinates(shape, 100, 100, seed=4)
    extent = verbatim_copy_extent(coords, shape)
    cy, cx = lattice.cell
    assert 0.5 * min(cy, cx) <= extent <= 2.0 * max(cy, cx)     # measured: about one cell


def test_even_interp_is_numpys_interp_bit_for_bit():
    """The sampler's table lookup on the even Gaussian grid equals np.interp exactly, at and between
    grid points, a rounding step either side of them and beyond both ends."""
    rng = np.random.default_rng(4)
    grid = np.linspace(-TB.GAUSS_RANGE, TB.GAUSS_RANGE, 257)
    table = np.sort(rng.random(257)).astype(np.float32)
    x = np.concatenate([rng.normal(scale=2.5, size=20_000), grid, np.nextafter(grid, 9.0), np.nextafter(grid, -9.0),
                        grid.astype(np.float32), [-1e9, 1e9, -4.0, 4.0, 0.0, -0.0]])
    np.testing.assert_array_equal(TB.even_interp(x, grid, table), np.interp(x, grid, table))


def test_bands_side_by_side_are_one_band(bricks, monkeypatch):
    """Threads and band heights do not change the output: each band is the same pixels' formula."""
    analysis = bricks[1]
    whole = TB.synthesize(analysis, 70, 90, seed=2)
    monkeypatch.setattr(TB, "BAND_PIXELS", 90 * 3)
    np.testing.assert_array_equal(TB.synthesize(analysis, 70, 90, seed=2), whole)
    lattice = TB.make_lattice(70, 90, TB.default_cell(analysis.exemplar_shape))
    assert TB.footprints_fit(lattice, analysis.exemplar_shape)   # reads from flat indices, no modulo
    at = TB.synthesize_at(analysis, lattice, 2, *np.meshgrid(np.arange(70), np.arange(90), indexing="ij"))
    np.testing.assert_array_equal(at, whole)
    lattice = TB.make_lattice(70, 90, 100.0)                      # footprints too big: reads wrap
    assert not TB.footprints_fit(lattice, analysis.exemplar_shape)
    at = TB.synthesize_at(analysis, lattice, 2, *np.meshgrid(np.arange(70), np.arange(90), indexing="ij"))
    np.testing.assert_array_equal(TB.synthesize(analysis, 70, 90, seed=2, cell=100.0), at)


def test_bad_exemplars_raise():
    with pytest.raises(ValueError, match="exemplar"):
        TB.analyse(np.zeros((32, 32, 3), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        TB.analyse(np.full((32, 32, 5), np.nan, np.float32))
    with pytest.raises(ValueError, match="positive"):
        TB.make_lattice(0, 16, 4.0)


def test_constant_channel_stays_constant():
    ex = _exemplar("bricks", 3, 64)
    ex[..., 4] = 0.5
    out = TB.synthesize(TB.analyse(ex), 48, 48, seed=2)
    assert np.allclose(out[..., 4], 0.5, atol=1e-6)


def _script():
    """scripts/tiling_blend.py as a module."""
    spec = importlib.util.spec_from_file_location("tiling_blend_script", ROOT / "scripts" / "tiling_blend.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_script_writes_maps_and_reports_bad_input(tmp_path, capsys):
    from trainer.data import write_material

    write_material(tmp_path / "data", "bricks_a", make_material("bricks", 5, 64))
    script = _script()
    assert script.main(["--data", str(tmp_path / "data"), "--size", "48", "--seed", "2",
                        "--out", str(tmp_path / "out")]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == [f"bricks_a_tb_s2_{m}.png" for m in ("albedo", "height", "normal", "roughness")]
    capsys.readouterr()
    assert script.main(["--data", str(tmp_path / "missing"), "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "Traceback" not in err
