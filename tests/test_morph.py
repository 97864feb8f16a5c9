"""Morphs between two materials: ends exact, every frame tileable, even pace, contrast kept."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import GRAVEL, ROOT, one_line
from PIL import Image

from blender_texgan.__main__ import main
from blender_texgan.core.maps import PBR_MAPS
from blender_texgan.core.morph import morph, morph_times
from blender_texgan.core.tiling import looks_periodic


def _noise(seed: int, shape=(48, 48, 3)) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0.2, 0.8, shape).astype(np.float32)


def test_the_ends_are_the_two_textures_and_every_frame_wraps():
    a, b = _noise(1), _noise(2)
    assert np.allclose(morph(a, b, 0.0), a, atol=1e-6) and np.allclose(morph(a, b, 1.0), b, atol=1e-6)
    for t in (0.25, 0.5, 0.8):
        rolled = morph(np.roll(a, (5, 7), (0, 1)), np.roll(b, (5, 7), (0, 1)), t)
        assert np.allclose(rolled, np.roll(morph(a, b, t), (5, 7), (0, 1)), atol=1e-6)


def test_frames_change_at_an_even_pace_and_keep_their_contrast():
    a, b = _noise(3), _noise(4)
    frames = [morph(a, b, t) for t in morph_times(12)]
    steps = [np.abs(f1 - f0).mean() for f0, f1 in zip(frames, frames[1:])]
    assert max(steps) / min(steps) < 1.2, steps  # no jumps
    middle = frames[len(frames) // 2]
    assert middle.std() > 0.9 * min(a.std(), b.std())  # a plain crossfade falls to about 0.7
    with pytest.raises(ValueError, match="at least 2 frames"):
        morph_times(1)
    with pytest.raises(ValueError, match="same shape"):
        morph(a, _noise(5, (32, 32, 3)), 0.5)


def test_the_command_morphs_seeds_and_images_into_tileable_frames(tmp_path, capsys):
    out = tmp_path / "frames"
    assert main(["interpolate", "--model", "stone_wall", "--from", "0", "--to", "5", "--frames", "3",
                 "--size", "64", "--out", str(out), "--engine", "numpy"]) == 0
    assert len(list(out.iterdir())) == 3 * len(PBR_MAPS)
    first = np.asarray(Image.open(out / "frame_0000_albedo.png"), np.float64)
    middle = np.asarray(Image.open(out / "frame_0001_albedo.png"), np.float64)
    assert looks_periodic(first) and looks_periodic(middle)
    assert np.abs(first - middle).mean() > 1.0  # it moves
    photo = GRAVEL
    assert main(["interpolate", "--model", "stone_wall", "--from", "0", "--to", str(photo), "--frames", "2",
                 "--size", "64", "--out", str(tmp_path / "mixed"), "--engine", "numpy"]) == 0
    last = np.asarray(Image.open(tmp_path / "mixed" / "frame_0001_albedo.png"), np.float64)
    assert looks_periodic(last)
    capsys.readouterr()
    for extra, word in [(["--from", "0", "--to", "1", "--frames", "1"], "frames"),
                        (["--from", "0", "--to", str(tmp_path / "missing.png")], "neither a seed nor an image"),
                        (["--from", "-3", "--to", "1"], "seed"),
                        (["--from", "0", "--to", str(ROOT / "README.md")], "README.md")]:
        assert main(["interpolate", "--size", "64", "--out", str(tmp_path / "bad"), "--engine", "numpy", *extra]) == 2
        one_line(capsys.readouterr().err, "error", word)
