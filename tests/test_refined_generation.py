"""Generation with an exemplar: the net lays out, coordinate synthesis refines, every map is read
through one field. Exact tiling, aligned maps, the same output on both engines, no pasted exemplar."""
from __future__ import annotations

import numpy as np
import pytest

from blender_texgan.core.normals import normal_from_height
from blender_texgan.core.synthesis.quilt import border_pairs
from blender_texgan.core.synthesis.read_field import patch_cuts
from blender_texgan.core.tiling import looks_periodic, seam_ratio
from blender_texgan.engine.generate import GenerationError, GenerationRequest, generate_with_field
from trainer.metrics import verbatim_copy_extent


def run(model, size=128, seed=0, **kw):
    return generate_with_field(GenerationRequest(str(model), size, seed, **kw))


def test_refined_maps_tile_exactly(exemplar_model):
    maps, _, coords = run(exemplar_model, 128, 3, engine="numpy", mode="refined")
    assert coords.shape == (128, 128, 2)
    for name in ("albedo", "height", "normal", "roughness"):
        assert looks_periodic(maps[name]), name
    assert seam_ratio(maps["albedo"]) < 1.2


def test_joined_patches_tile_exactly(exemplar_model):
    """Random mode joins patches along cuts (core.synthesis.quilt): across the wrap lines the exemplar mostly
    continues itself, like across any other line. (A line-jump test would judge the content here:
    with this seed a brick's edge row falls on the wrap, its jump the photo's own.)"""
    maps, _, coords = run(exemplar_model, 128, 3, engine="numpy", mode="random")
    assert coords.shape == (128, 128, 2)
    across_x, across_y = border_pairs(coords)
    assert across_x[:, -1].mean() <= 0.1 and across_y[-1].mean() <= 0.1
    assert maps["height"].shape == (128, 128, 1) and np.isfinite(maps["height"]).all()


def test_every_map_is_read_through_one_field(exemplar_model):
    """The exemplar's height equals its albedo's red, so the output's must too (up to 8-bit storage);
    and the normal map is the output height's own normal."""
    maps, manifest, coords = run(exemplar_model, 128, 5, engine="numpy")
    near_x, near_y = patch_cuts(coords, 2)
    inside = ~(near_x | near_y)  # seams blend height plainly and albedo contrast-preserving
    assert inside.sum() > 500
    np.testing.assert_allclose(maps["height"][..., 0][inside], maps["albedo"][..., 0][inside], atol=1.5 / 255)
    expected = normal_from_height(maps["height"][..., 0], manifest["exemplar"]["normal_strength"])
    np.testing.assert_allclose(maps["normal"], np.clip(expected, 0, 1), atol=1e-6)


def test_one_seed_gives_the_same_output_on_both_engines(exemplar_model):
    a, _, ca = run(exemplar_model, 128, 11, engine="numpy")
    b, _, cb = run(exemplar_model, 128, 11, engine="torch", device="cpu")
    assert (ca == cb).mean() > 0.999  # the guides differ by < 1e-3; the fields agree
    assert np.abs(a["albedo"] - b["albedo"]).mean() < 1e-3


def test_seeds_differ_and_nothing_is_pasted_back(exemplar_model):
    fields = [run(exemplar_model, 256, seed, engine="numpy")[2] for seed in range(3)]
    assert (fields[0] != fields[1]).any(axis=-1).mean() > 0.5
    side = 128  # the exemplar's smaller side
    assert max(verbatim_copy_extent(f, (side, side)) for f in fields) <= side / 4


def test_the_copy_measure_catches_a_model_that_pastes_its_exemplar():
    ys, xs = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    pasted = np.stack([ys % 128, xs % 128], axis=-1)
    assert verbatim_copy_extent(pasted, (128, 128)) >= 128


def test_a_model_without_an_exemplar_is_neural_only(tiny_model):
    maps, _, coords = run(tiny_model, 64, 0, engine="numpy")
    assert coords is None and maps["albedo"].shape == (64, 64, 3)
    with pytest.raises(GenerationError, match="no exemplar"):
        run(tiny_model, 64, 0, engine="numpy", mode="refined")


def test_a_regular_exemplar_has_its_repeat_found_and_kept():
    """Tiles 24 px wide and 40 px high: the repeats are found, and a snapped field keeps every patch
    on the tile lattice (one residue per axis), moving no pixel by more than half a tile."""
    from blender_texgan.core.synthesis.lattice import axis_periods, lattice_positions, snap_to_lattice

    ys, xs = np.meshgrid(np.arange(240), np.arange(240), indexing="ij")
    grout = ((ys % 40) < 3) | ((xs % 24) < 3)
    exemplar = np.repeat(np.where(grout, 0.3, 0.8)[..., None], 5, axis=-1).astype(np.float32)
    exemplar += np.random.default_rng(0).normal(0, 0.02, exemplar.shape).astype(np.float32)
    assert axis_periods(exemplar) == (40, 24)
    assert axis_periods(np.random.default_rng(1).random((128, 128, 5))) == (0, 0)
    rng = np.random.default_rng(2)
    blocks = rng.integers(0, 200, (16, 16, 2))
    oy, ox = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    field = np.repeat(np.repeat(blocks, 16, 0), 16, 1) + np.stack([oy % 16, ox % 16], -1)
    assert (snap_to_lattice(field[:128, :128], (40, 24), (240, 240), False)[..., 0] == field[:128, :128, 0]).all()
    snapped = snap_to_lattice(field, (40, 24), (240, 240), periodic=False)  # 256 holds 6 and 10 repeats
    stretched = np.stack(np.meshgrid(lattice_positions(256, 40), lattice_positions(256, 24), indexing="ij"), -1)
    offsets = snapped - stretched
    assert len(np.unique(offsets[..., 0] % 40)) == 1 and len(np.unique(offsets[..., 1] % 24)) == 1
    assert ((snapped >= 4) & (snapped < 236)).all()
    # A whole number of tiles spans the output, so the grid continues across the wrap border.
    for size, period in ((128, 40), (128, 24), (1024, 31)):
        positions = lattice_positions(size, period)
        steps = np.diff(np.append(positions, size * period * max(1, round(size / period)) // size))
        assert positions[0] == 0 and set(steps) <= {0, 1, 2}  # a copy, stretched by a few per cent
        assert (positions[-1] + steps[-1]) % period == 0  # one step past the end: back on the lattice


def test_tiling_and_blending_is_offered_as_a_mode(exemplar_model):
    maps, _, coords = run(exemplar_model, 128, 2, engine="numpy", mode="blend")
    assert coords is None and looks_periodic(maps["albedo"]) and maps["albedo"].std() > 0.02


def test_joined_patches_are_the_same_field_on_both_engines(exemplar_model):
    a, _, ca = run(exemplar_model, 160, 12, engine="numpy", mode="random")
    b, _, cb = run(exemplar_model, 160, 12, engine="torch", device="cpu", mode="random")
    assert np.array_equal(ca, cb)
    for name in a:
        np.testing.assert_array_equal(a[name], b[name])
