"""Height -> normal (OpenGL, +Y up), periodicity measures, PNG writing."""
from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from blender_texgan.core import png
from blender_texgan.core.normals import decode_normal, normal_from_height
from blender_texgan.core.png import write_png
from blender_texgan.core.tiling import looks_periodic, seam_ratio, tile


def _bump(size=64):
    y, x = np.mgrid[0:size, 0:size] - size / 2
    return np.exp(-(x ** 2 + y ** 2) / (2 * (size / 8) ** 2)).astype(np.float32)


def test_normal_points_away_from_a_bump_opengl_convention():
    n = decode_normal(normal_from_height(_bump(), strength=10.0))
    c = 32
    assert n[c, c + 8, 0] > 0.1      # right flank faces +X (red up)
    assert n[c, c - 8, 0] < -0.1     # left flank faces -X
    assert n[c - 8, c, 1] > 0.1      # upper flank (towards row 0) faces +Y: green up, OpenGL
    assert n[c + 8, c, 1] < -0.1     # lower flank faces -Y
    assert np.allclose(np.linalg.norm(n, axis=-1), 1.0, atol=1e-3)
    assert (n[..., 2] > 0).all()


def test_normal_matches_analytic_slope():
    size, strength = 64, 5.0
    x = np.arange(size)
    h = np.tile(0.5 + 0.5 * np.sin(2 * np.pi * x / size), (size, 1)).astype(np.float32)
    n = decode_normal(normal_from_height(h, strength))
    slope = 0.5 * np.cos(2 * np.pi * x / size) * 2 * np.pi / size * strength
    expected_x = -slope / np.sqrt(slope ** 2 + 1)
    assert np.allclose(n[10, :, 0], expected_x, atol=0.01)


def test_periodic_height_gives_periodic_normal(rng):
    from trainer.procedural import periodic_noise
    h = periodic_noise(rng, 64)[..., 0] * 0.1 + 0.5
    n = normal_from_height(h, 8.0)
    assert np.allclose(np.roll(normal_from_height(np.roll(h, 17, axis=1), 8.0), -17, axis=1), n, atol=1e-6)
    assert looks_periodic(n) and seam_ratio(n) < 1.3


def test_periodicity_check_catches_a_seam(rng):
    from trainer.procedural import periodic_noise
    big = periodic_noise(rng, 256, beta=3.0)
    assert looks_periodic(big)
    assert not looks_periodic(big[:100, :100])  # a crop of a smooth field has a hard seam
    assert seam_ratio(big[:100, :100]) > 3.0
    assert 0.8 < seam_ratio(big) < 1.2


@pytest.mark.parametrize("deflate", ["isal", "zlib"])
@pytest.mark.parametrize("bits,channels", [(8, 3), (8, 1), (16, 1), (16, 3)])
def test_png_round_trip(tmp_path, rng, monkeypatch, bits, channels, deflate):
    """Both deflaters (ISA-L when installed, the standard library's without it) write readable PNGs."""
    if deflate == "zlib":
        monkeypatch.setattr(png, "isal_zlib", None)
    elif png.isal_zlib is None:
        pytest.skip("isal is not installed")
    monkeypatch.setattr(png, "BAND_BYTES", 200)   # several bands, deflated on their own and joined
    img = rng.random((20, 30, channels)).astype(np.float32)
    path = write_png(tmp_path / "x.png", img, bits=bits)
    if bits == 16 and channels == 3:  # Pillow reads 16-bit RGB as 8-bit: decode the IDAT by hand
        import zlib
        raw = path.read_bytes()
        idat = raw.index(b"IDAT")
        length = int.from_bytes(raw[idat - 4:idat], "big")
        rows = np.frombuffer(zlib.decompress(raw[idat + 4:idat + 4 + length]), np.uint8).reshape(20, -1)
        assert (rows[:, 0] == 1).all()  # PNG's Sub filter: each byte less the one a pixel (6 bytes) before
        data = np.cumsum(rows[:, 1:].reshape(20, 30, 6), axis=1, dtype=np.uint8)  # undone modulo 256
        back = data.reshape(20, -1).view(">u2").astype(np.float64) / 65535.0
    else:
        back = np.asarray(Image.open(path), np.float64) / (255.0 if bits == 8 else 65535.0)
    back = back.reshape(img.shape)
    assert np.abs(back - img).max() <= 0.5 / (255 if bits == 8 else 65535) + 1e-6


def test_adler32_of_joined_pieces_is_the_whole_datas(rng):
    import zlib
    data = rng.integers(0, 256, 300_000, dtype=np.uint8).tobytes()
    checksum = 1
    for a, b in [(0, 0), (0, 7), (7, 70_000), (70_000, 300_000)]:
        checksum = png._adler32_combine(checksum, zlib.adler32(data[a:b]), b - a)
    assert checksum == zlib.adler32(data)
    assert png._adler32_combine(zlib.adler32(b"\xff" * 5000), zlib.adler32(b"\xff" * 90_000), 90_000) == zlib.adler32(b"\xff" * 95_000)


def test_a_map_set_s_files_are_written_whole(tmp_path, rng, monkeypatch):
    """add_all encodes the bands of every file side by side: each file is still its own image."""
    monkeypatch.setattr(png, "BAND_BYTES", 500)
    images = [rng.random((33, 21, 3)).astype(np.float32), rng.random((17, 40)).astype(np.float32)]
    with png.PngSet() as files:
        paths = files.add_all([(tmp_path / "a.png", images[0], 8), (tmp_path / "b.png", images[1], 16)])
    for path, img, top in zip(paths, images, (255, 65535)):
        back = np.asarray(Image.open(path), np.float64).reshape(img.shape) / top
        assert np.abs(back - img).max() <= 0.5 / top + 1e-6


def test_tile_shape():
    assert tile(np.zeros((3, 5, 2)), 2).shape == (6, 10, 2)
