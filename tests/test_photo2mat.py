"""python -m blender_texgan photo2mat: one image or a folder -> one PNG per map, bad input in one line."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from conftest import GRAVEL, ROOT, bad_files, good_files, one_line
from PIL import Image

from blender_texgan.__main__ import main
from blender_texgan.core.maps import PBR_MAPS
from blender_texgan.core.tiling import border_jumps, looks_periodic
from blender_texgan.engine import library


@pytest.fixture()
def photo():
    with Image.open(GRAVEL) as im:
        return np.asarray(im.convert("RGB"), np.float32)[:96, :96] / 255.0


@pytest.fixture(autouse=True)
def no_bundled_translator(tmp_path_factory, monkeypatch):
    """The classical maps serve unless a test names a translator (none is bundled yet)."""
    monkeypatch.setattr(library, "TRANSLATORS_DIR", tmp_path_factory.mktemp("none"))


def test_grey_rgba_16_bit_and_cmyk_photos_become_tileable_materials(tmp_path, photo, capsys):
    good_files(tmp_path, photo)
    for source in sorted(p for p in tmp_path.iterdir() if p.is_file()):
        out = tmp_path / "out" / source.stem
        assert main(["photo2mat", str(source), "--size", "64", "--out", str(out)]) == 0, source.name
        files = sorted(p.name for p in out.iterdir())
        assert files == sorted(f"{source.stem}_{m.name}.png" for m in PBR_MAPS)
        with Image.open(out / f"{source.stem}_height.png") as im:
            assert im.mode.startswith("I") and im.size == (64, 64)  # 16-bit height
            height = np.asarray(im, np.float64)
        assert height.std() > 100  # relief, not a flat map
        for m in PBR_MAPS:
            with Image.open(out / f"{source.stem}_{m.name}.png") as im:
                a = np.asarray(im, np.float64)
            a = a if a.ndim == 3 else a[..., None]
            # A near-flat map (gentle relief's normals vary by a level or two) tiles when its wrap lines
            # jump no more than one 8-bit level on average: its lines differ by rounding alone.
            level = 257.0 if a.max() > 255 else 1.0
            assert looks_periodic(a) or max(border_jumps(a)[2:]) <= level, (source.name, m.name)
    assert "_albedo.png" in capsys.readouterr().out


def test_a_translator_file_serves_when_named(tmp_path, photo, stand_in_translator):
    from blender_texgan.core.png import write_png

    write_png(tmp_path / "wall.png", photo)
    args = ["photo2mat", str(tmp_path / "wall.png"), "--size", "64", "--out", str(tmp_path / "o"),
            "--translator", str(stand_in_translator), "--engine", "numpy", "--no-seamless"]
    assert main(args) == 0
    with Image.open(tmp_path / "o" / "wall_albedo.png") as im:
        assert im.size == (96, 96)  # --no-seamless keeps the photo's framing
    assert main(args[:5] + [str(tmp_path / "c")] + args[8:]) == 0  # the same without --translator
    with Image.open(tmp_path / "o" / "wall_height.png") as a, Image.open(tmp_path / "c" / "wall_height.png") as b:
        assert not np.array_equal(np.asarray(a), np.asarray(b))  # the translator, not the classical maps


def test_a_folder_run_goes_past_bad_files(tmp_path, photo):
    folder = tmp_path / "photos"
    folder.mkdir()
    good = good_files(folder, photo)
    bad = bad_files(folder)
    result = subprocess.run([sys.executable, "-m", "blender_texgan", "photo2mat", str(folder), "--size", "64",
                             "--out", str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert len(list((tmp_path / "out").iterdir())) == 4 * len(good)
    assert f"skipped {len(bad)} file(s):" in result.stderr


def test_bad_input_gives_one_line(tmp_path, photo, capsys):
    bad = bad_files(tmp_path)
    for name, word in bad.items():
        assert main(["photo2mat", str(tmp_path / name), "--size", "64", "--out", str(tmp_path / "o")]) == 2
        one_line(capsys.readouterr().err, "error", word)
    from blender_texgan.core.png import write_png

    write_png(tmp_path / "fine.png", photo)
    for extra, word in [(["--out", str(tmp_path / "x.png")], "folder"),
                        (["--out", str(tmp_path / "o"), "--translator", "nope"], "unknown translator"),
                        (["--out", str(tmp_path / "o"), "--translator", str(tmp_path / "fine.png")], "safetensors")]:
        assert main(["photo2mat", str(tmp_path / "fine.png"), "--size", "64", *extra]) == 2, extra
        one_line(capsys.readouterr().err, "error", word)
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())
