"""The photo tools on hostile but realistic input and output (issue 21, part C): thin photos,
an --out that is the input, outputs that cannot be written, a full disk, 16-bit colour, truncated
files; and bounded memory (test_photo_memory.py)."""
from __future__ import annotations

import numpy as np
import pytest

from blender_texgan.__main__ import main


def _save(path, pixels: np.ndarray):
    from PIL import Image

    Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path)
    return path


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, 3)).astype(np.float32)


def _error_line(capsys) -> str:
    """The one error line (after a folder's progress bar, if any)."""
    err = capsys.readouterr().err.strip()
    lines = [line for line in err.splitlines() if not line.startswith(("seamless [", "photo2mat ["))]
    assert "Traceback" not in err and len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# ---------------------------------------------------------------- thin photos

@pytest.mark.parametrize("shape", [(5000, 40), (33, 4000)])
def test_straightening_a_thin_photo_keeps_it_as_it_is(shape):
    from blender_texgan.core.photo.perspective import straighten
    from blender_texgan.core.photo.seamless import luminance

    photo = _noise(*shape)
    out, found = straighten(photo, luminance(photo))
    assert found is None and out is photo


@pytest.fixture(scope="module")
def thin_photo(tmp_path_factory):
    return _save(tmp_path_factory.mktemp("thin") / "thin.png", _noise(5000, 40))


@pytest.mark.parametrize("command", ["seamless", "photo2mat"])
def test_thin_photos_get_the_no_straighten_message(tmp_path, thin_photo, capsys, command):
    lines = []
    for extra in ([], ["--no-straighten"]):
        assert main([command, str(thin_photo), "--out", str(tmp_path / "out"), "--size", "64", *extra]) == 2
        lines.append(_error_line(capsys))
    assert lines[0] == lines[1] and "too narrow" in lines[0], lines
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv", [
    ["variations", "{photo}", "--size", "64", "--engine", "numpy"],
    ["interpolate", "--from", "{photo}", "--to", "1", "--frames", "2", "--size", "64", "--engine", "numpy"],
    ["transform", "--translator", "clean_to_rusty_metal", "--image", "{photo}", "--size", "64", "--engine", "numpy"],
])
def test_thin_photos_are_one_line_in_every_command(tmp_path, thin_photo, capsys, argv):
    argv = [a.format(photo=thin_photo) for a in argv] + ["--out", str(tmp_path / "out")]
    assert main(argv) == 2
    assert "too narrow" in _error_line(capsys)
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- outputs

@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    return _save(tmp_path_factory.mktemp("photo") / "wall.png", _noise(48, 56, seed=1))


def test_seamless_refuses_to_replace_its_own_photo(tmp_path, photo, capsys):
    import shutil

    own = shutil.copyfile(photo, tmp_path / "mine.png")
    before = own.read_bytes()
    assert main(["seamless", str(own), "--out", str(own), "--size", "32"]) == 2
    assert "is the image itself" in _error_line(capsys)
    assert own.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["mine.png"]
    # a folder made seamless into itself: a.png's result would replace the folder's a_seamless.png
    named = shutil.copyfile(photo, tmp_path / "mine_seamless.png")
    assert main(["seamless", str(tmp_path), "--out", str(tmp_path), "--size", "32"]) == 0
    assert named.read_bytes() == before and own.read_bytes() == before
    assert "would replace an image of the folder" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.png", "mine_seamless.png",
                                                          "mine_seamless_seamless.png"]


def _no_work(monkeypatch):
    """Make every photo tool's work fail the test: outputs must be refused before it."""
    import blender_texgan.core.photo.seamless as seamless
    import blender_texgan.engine.photo.pipeline as photo

    def work(*args, **kwargs):
        raise AssertionError("the work ran before the output was checked")
    monkeypatch.setattr(seamless, "make_seamless", work)
    monkeypatch.setattr(photo, "photo_to_material", work)


@pytest.mark.parametrize("command", ["seamless", "photo2mat"])
@pytest.mark.parametrize("where", ["inside a file", "/proc"])
def test_outputs_that_cannot_be_written_are_refused_first_and_once(tmp_path, photo, capsys, monkeypatch,
                                                                    command, where):
    import shutil

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        shutil.copyfile(photo, folder / f"p{i}.png")
    (tmp_path / "file.txt").write_text("not a folder")
    out = tmp_path / "file.txt" / "out" if where == "inside a file" else "/proc/texgan_out"
    _no_work(monkeypatch)
    for source in (photo, folder):
        assert main([command, str(source), "--out", str(out), "--size", "32"]) == 2
        line = _error_line(capsys)
        assert line.startswith("error: --out") and str(out) in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt", "photos"]


def _disk_fills_after(monkeypatch, parts: int):
    """The part writer writes `parts` files, then half a file and fails as a full disk does."""
    import errno

    import blender_texgan.core.png as png

    real, calls = png._write_part, []

    def write(part, data):
        calls.append(part)
        if len(calls) > parts:
            real(part, data[:len(data) // 2])
            raise OSError(errno.ENOSPC, "No space left on device", str(part))
        real(part, data)
    monkeypatch.setattr(png, "_write_part", write)
    return calls


@pytest.mark.parametrize("argv, parts, kept", [
    (["seamless", "{photo}", "--size", "32", "--out", "{out}/a.png"], 0, 0),
    (["seamless", "{photo}", "--size", "32", "--out", "{out}/new/deeper"], 0, 0),
    (["seamless", "{folder}", "--size", "32", "--out", "{out}/new"], 1, 1),
    (["photo2mat", "{photo}", "--size", "32", "--out", "{out}/new"], 2, 0),
    (["photo2mat", "{folder}", "--size", "32", "--out", "{out}/new"], 6, 4),
    (["generate", "--size", "64", "--engine", "numpy", "--out", "{out}/new"], 3, 0),
    (["interpolate", "--from", "1", "--to", "2", "--frames", "3", "--size", "64", "--engine", "numpy",
      "--out", "{out}/new"], 9, 0),
])
def test_a_full_disk_leaves_nothing_behind(tmp_path, photo, capsys, monkeypatch, argv, parts, kept):
    """Whole map sets written before the disk filled stay (a folder's earlier images; an
    interpolation is one set); no part file, no partial set, no folder the run made left empty."""
    import shutil

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        shutil.copyfile(photo, folder / f"p{i}.png")
    out = tmp_path / "out"
    out.mkdir()
    calls = _disk_fills_after(monkeypatch, parts)
    assert main([a.format(photo=photo, folder=folder, out=out) for a in argv]) == 2
    assert len(calls) == parts + 1  # a full disk stops the run: the next images would fail alike
    assert "No space left on device" in _error_line(capsys)
    files = sorted(p.name for p in out.rglob("*") if p.is_file())
    assert len(files) == kept and not any(name.endswith(".part") for name in files), files
    assert [p.name for p in out.iterdir()] == (["new"] if kept else []), files


# ---------------------------------------------------------------- 16-bit colour

def _png_16bit_filtered(path, pixels: np.ndarray):
    """A 16-bit RGB PNG whose rows use every PNG filter in turn (as libpng's adaptive filtering
    does), so reading it exercises the decoder's unfiltering, not only our writer's filter 0."""
    import struct
    import zlib

    q = np.rint(np.clip(pixels, 0, 1) * 65535).astype(">u2")
    h, w, c = q.shape
    rows = q.reshape(h, w * c).view(np.uint8).astype(np.int64).reshape(h, -1)
    bpp = 2 * c
    out = []
    for y in range(h):
        cur, up = rows[y], rows[y - 1] if y else np.zeros_like(rows[0])
        left = np.r_[np.zeros(bpp, np.int64), cur[:-bpp]]
        upleft = np.r_[np.zeros(bpp, np.int64), up[:-bpp]]
        p = left + up - upleft
        pa, pb, pc = np.abs(p - left), np.abs(p - up), np.abs(p - upleft)
        paeth = np.where((pa <= pb) & (pa <= pc), left, np.where(pb <= pc, up, upleft))
        kind = y % 5
        predictor = [0, left, up, (left + up) // 2, paeth][kind]
        out.append(bytes([kind]) + ((cur - predictor) % 256).astype(np.uint8).tobytes())

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"".join(out))) + chunk(b"IEND", b""))
    return path


def test_16_bit_colour_is_read_in_16_bits_and_made_seamless_in_16_bits(tmp_path, capsys):
    from blender_texgan.engine.image_files import load_image

    y, x = np.mgrid[0:64, 0:72] / 80.0
    smooth = np.stack([y, x, 0.5 + 0.3 * np.sin(6 * x) * y], -1).astype(np.float32)  # fine steps: 8 bits show
    source = _png_16bit_filtered(tmp_path / "deep.png", smooth)
    loaded = load_image(source)
    assert loaded.bits == 16 and loaded.pixels.shape == (64, 72, 3)
    assert np.abs(loaded.pixels - smooth).max() < 1e-4  # 8 bits would be off by up to 2e-3
    assert main(["seamless", str(source), "--out", str(tmp_path / "out.png"), "--size", "32"]) == 0
    from PIL import Image

    assert (tmp_path / "out.png").read_bytes()[24] == 16  # IHDR bit depth
    assert Image.open(tmp_path / "out.png").size == (32, 32)
