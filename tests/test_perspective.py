"""Straightening photos taken at an angle (core.perspective): a wall of brick columns seen in
perspective comes out with parallel columns; textures without clear perspective are left as they
are; make seamless and the terminal use it. Procedural fixtures only: seconds."""
from __future__ import annotations

import numpy as np
import pytest

from blender_texgan.__main__ import main
from blender_texgan.core.perspective import MIN_CONVERGENCE, _warp, straighten, vanishing_points
from blender_texgan.core.png import write_png
from blender_texgan.core.seamless import luminance, make_seamless
from blender_texgan.core.tiling import looks_periodic
from blender_texgan.engine.image_files import load_image

SIDE = 320
DISTANCE = 600.0  # px from the photo's centre up to where its columns meet


def brick_columns(side: int, seed: int = 0) -> np.ndarray:
    """(side, side, 3) wall of upright brick columns (bricks of random height, light mortar), seen straight on."""
    rng = np.random.default_rng(seed)
    img = np.empty((side, side, 3), np.float32)
    col_w, mortar = 22, 3
    for x0 in range(0, side, col_w):
        y = -int(rng.integers(0, 60))
        while y < side:
            h = int(rng.integers(40, 80))
            tone = rng.uniform(0.25, 0.45) * np.array([1.0, 0.8, 0.7])
            img[max(y, 0):max(y + h, 0), x0:x0 + col_w] = tone
            img[max(y, 0):max(y + mortar, 0), x0:x0 + col_w] = 0.85
            y += h
        img[:, x0:x0 + mortar] = 0.85
    return np.clip(img + rng.normal(0, 0.02, img.shape).astype(np.float32), 0, 1)


def seen_in_perspective(wall: np.ndarray, side: int, distance: float) -> np.ndarray:
    """The wall photographed tilted: its columns meet `distance` px above the photo's centre.
    (The straightening homography with g = (0, 1/distance) maps photo to wall; its inverse is the
    same map with -g, which is what _warp samples through, around the wall's centre.)"""
    half = side // 2
    return _warp(wall, (0.0, -1.0 / distance), (-half, -half, side - half, side - half))


@pytest.fixture(scope="module")
def tilted() -> np.ndarray:
    return seen_in_perspective(brick_columns(2 * SIDE), SIDE, DISTANCE)


def column_convergence(image: np.ndarray) -> float:
    """Tilt change of near-vertical edges across the image, radians (0: parallel columns)."""
    from blender_texgan.core.perspective import FAMILY_SPREAD, _edges, _family_fit

    gx, gy, m2, strong = _edges(luminance(image).astype(np.float64))
    h, w = gx.shape
    xs = np.mgrid[0:h, 0:w][1].astype(np.float64) - (w - 1) / 2
    sel = strong & (np.abs(gy) <= FAMILY_SPREAD * np.abs(gx))
    return _family_fit(-gy[sel] / gx[sel], xs[sel], m2[sel])[1] * w


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
