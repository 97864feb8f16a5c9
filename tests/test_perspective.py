"""Straightening photos taken at an angle (core.photo.perspective): a wall of brick columns seen in
perspective comes out with parallel columns; textures without clear perspective are left as they
are; make seamless and the terminal use it. Procedural fixtures only: seconds."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import TILTED_DISTANCE, TILTED_SIDE, brick_columns, column_convergence, tilted_wall

from blender_texgan.__main__ import main
from blender_texgan.core.photo.perspective import MIN_CONVERGENCE, straighten, vanishing_points
from blender_texgan.core.photo.seamless import luminance, make_seamless
from blender_texgan.core.png import write_png
from blender_texgan.core.tiling import looks_periodic
from blender_texgan.engine.image_files import load_image

SIDE, DISTANCE = TILTED_SIDE, TILTED_DISTANCE  # the wall is conftest.tilted_wall's


@pytest.fixture(scope="module")
def tilted() -> np.ndarray:
    return tilted_wall()


def test_converging_columns_come_out_parallel(tilted):
    before = column_convergence(tilted)
    assert before > 4 * MIN_CONVERGENCE  # the fixture really is in perspective
    straight, found = straighten(tilted, luminance(tilted))
    assert found is not None
    vx, vy = found.vanishing_point
    assert abs(vy + DISTANCE) < 0.1 * DISTANCE and abs(vx) < 0.05 * DISTANCE, found
    assert abs(column_convergence(straight)) < MIN_CONVERGENCE < before / 4
    h, w = straight.shape[:2]
    assert straight.shape[2] == 3 and h * w >= 0.45 * SIDE * SIDE
    assert 0.0 <= straight.min() and straight.max() <= 1.0


def test_textures_without_perspective_are_kept_as_they_are():
    rng = np.random.default_rng(1)
    noise = rng.random((SIDE, SIDE, 3)).astype(np.float32)
    square_on = brick_columns(SIDE, seed=2)
    plain = np.full((SIDE, SIDE, 3), 0.4, np.float32)
    for image in (noise, square_on, plain):
        out, found = straighten(image, luminance(image))
        assert found is None and out is image
    assert vanishing_points(luminance(square_on).astype(np.float64)) == (None, None)


def test_grey_and_rgba_photos_keep_their_channels(tilted):
    for image in (tilted[..., :1], np.concatenate([tilted, np.ones_like(tilted[..., :1])], -1)):
        out, found = straighten(image, luminance(image))
        assert found is not None and out.shape[2] == image.shape[2] and out.dtype == np.float32


def test_make_seamless_straightens_first_unless_told_not_to(tilted):
    straightened = make_seamless(tilted, 256, method="wrap_cut")
    kept = make_seamless(tilted, 256, method="wrap_cut", straighten=False)
    assert looks_periodic(straightened) and looks_periodic(kept)
    # Tiled, the kept perspective puts a V at the wrap: columns lean differently on each side.
    assert abs(column_convergence(np.tile(straightened, (1, 2, 1)))) < abs(column_convergence(np.tile(kept, (1, 2, 1))))
    assert abs(column_convergence(straightened)) < MIN_CONVERGENCE < column_convergence(kept)


def test_the_seamless_command_takes_no_straighten(tmp_path, tilted):
    src = write_png(tmp_path / "wall.png", tilted)
    assert main(["seamless", str(src), "--size", "128", "--out", str(tmp_path / "a.png")]) == 0
    assert main(["seamless", str(src), "--size", "128", "--no-straighten", "--out", str(tmp_path / "b.png")]) == 0
    a, b = load_image(tmp_path / "a.png").pixels, load_image(tmp_path / "b.png").pixels
    assert a.shape == b.shape == (128, 128, 3) and np.abs(a - b).mean() > 0.02
