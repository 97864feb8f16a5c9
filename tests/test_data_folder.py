"""trainer.folder: a messy folder of texture images -> training stacks, with one warning for the rest."""
from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blender_texgan.core.normals import decode_normal, normal_from_height
from blender_texgan.core.png import write_png
from trainer.data import DataError
from trainer.folder import TextureFolderWarning, estimate_normal_strength, height_from_normal, is_periodic, load_folder
from trainer.procedural import make_material, periodic_noise

SIZE = 64
CC0 = Path(__file__).resolve().parents[2] / "shared" / "data" / "cc0"  # beside the repository


def _u8(a):
    return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)


def _smooth_height(seed=0, size=SIZE):
    h = periodic_noise(np.random.default_rng(seed), size, beta=3.5)[..., 0]
    return ((h - h.min()) / (h.max() - h.min())).astype(np.float32)


def _corr(a, b):
    return float(np.corrcoef(np.ravel(a), np.ravel(b))[0, 1])


def _load(folder, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        data = load_folder(folder, **kw)
    return data, [w for w in caught if issubclass(w.category, TextureFolderWarning)]


def _bad_files(folder: Path) -> list[str]:
    ok = folder / "ok.png"
    write_png(ok, np.full((SIZE, SIZE, 3), 0.5))
    raw = ok.read_bytes()
    ok.unlink()
    (folder / "truncated.png").write_bytes(raw[: len(raw) // 2])
    (folder / "x.png").write_text("this is not a picture\n")
    Image.new("RGB", (1, 1), (10, 20, 30)).save(folder / "dot.png")
    return ["truncated.png", "x.png", "dot.png"]


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    root = tmp_path_factory.mktemp("messy")
    # 1. our own full PBR set; its roughness at half size
    good = make_material("bricks", 3, SIZE)
    write_png(root / "bricks_000_albedo.png", good["albedo"])
    write_png(root / "bricks_000_normal.png", good["normal"])
    write_png(root / "bricks_000_height.png", good["height"], bits=16)
    Image.fromarray(_u8(good["roughness"][::2, ::2, 0])).save(root / "bricks_000_roughness.png")
    # 2. a Poly Haven-style set in a subfolder: diff + nor_gl + arm, no height
    ph = make_material("cobblestones", 1, SIZE)
    sub = root / "polyhaven"
    sub.mkdir()
    write_png(sub / "rock_wall_08_diff_1k.png", ph["albedo"])
    write_png(sub / "rock_wall_08_nor_gl_1k.png", ph["normal"])
    arm = np.concatenate([np.full_like(ph["roughness"], 0.9), ph["roughness"], np.zeros_like(ph["roughness"])], -1)
    write_png(sub / "rock_wall_08_arm_1k.png", arm)
    # 3. odd but fine image files, each an albedo-only set
    grey = (np.linspace(0, 65535, SIZE)[None, :] * np.ones((SIZE, 1))).astype(np.uint16)
    Image.fromarray(grey).save(root / "grey16.png")
    rgb = _u8(make_material("wood_planks", 2, SIZE)["albedo"])
    Image.fromarray(rgb).convert("CMYK").save(root / "print.jpg", quality=95)
    rgba = np.concatenate([rgb, np.full((SIZE, SIZE, 1), 7, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(root / "cutout.png")
    bad = _bad_files(root)
    return root, good, ph, rgb, bad


def test_messy_folder_loads_the_good_sets(messy):
    root, good, ph, rgb, _ = messy
    data, caught = _load(root)
    assert sorted(data.names) == sorted(["bricks_000", "rock_wall_08", "grey16", "print", "cutout"])
    assert len(data.stacks) == len(data.names) == len(data.periodic) == len(data.normal_strengths) == 5
    for s in data.stacks:
        assert s.shape == (5, SIZE, SIZE) and s.dtype == np.float32
        assert 0.0 <= s.min() and s.max() <= 1.0
    by = dict(zip(data.names, data.stacks))
    strength = dict(zip(data.names, data.normal_strengths))

    b = by["bricks_000"]
    assert np.abs(b[:3] - np.moveaxis(good["albedo"], -1, 0)).max() < 1 / 255 + 1e-6
    assert np.abs(b[3] - good["height"][..., 0]).max() < 1e-4          # 16-bit height kept exactly
    half = _u8(good["roughness"][::2, ::2, 0]) / 255.0
    assert _corr(b[4], np.kron(half, np.ones((2, 2)))) > 0.9             # half-size roughness upsampled
    assert strength["bricks_000"] == pytest.approx(6.0, rel=0.1)       # procedural NORMAL_STRENGTH
    assert all(data.periodic[data.names.index(n)] for n in ("bricks_000", "rock_wall_08"))

    g = by["grey16"]
    assert np.allclose(g[0], g[1]) and np.allclose(g[0], g[2])
    assert g[0].max() == pytest.approx(1.0) and g[0, 0, 0] == 0.0 and g[0].mean() == pytest.approx(0.5, abs=0.01)
    assert np.abs(by["cutout"][:3] - np.moveaxis(rgb, -1, 0) / 255.0).max() < 1e-6   # alpha dropped
    assert np.abs(by["print"][:3] - np.moveaxis(rgb, -1, 0) / 255.0).mean() < 0.05    # CMYK -> RGB
    for name in ("grey16", "print", "cutout"):
        assert strength[name] is None and np.all(by[name][3:] == 0.5)    # no maps: flat height, 0.5 roughness

    assert len(caught) == 1
    message = str(caught[0].message)
    for name in ("truncated.png", "x.png", "dot.png"):
        assert name in message
        assert any(s.startswith(name + " (") for s in data.skipped)
    assert len(data.skipped) == 3 and "\n" not in message


def test_poly_haven_set_gets_height_from_normal_and_roughness_from_arm(messy):
    root, _, ph, _, _ = messy
    data, caught = _load(root / "polyhaven")
    assert not caught and data.names == ["rock_wall_08"]
    s = data.stacks[0]
    assert np.abs(s[4] - ph["roughness"][..., 0]).max() < 1 / 255 + 1e-6   # arm's green
    assert "integrated" in data.sources[0]["height"] and "arm" in data.sources[0]["roughness"]
    height = s[3]
    assert height.min() == 0.0 and height.max() == 1.0
    assert _corr(height, ph["height"]) > 0.9
    # the normal rebuilt from the integrated height with the fitted strength matches the real one
    rebuilt = decode_normal(normal_from_height(height, data.normal_strengths[0]))
    given = decode_normal(ph["normal"])
    for c in (0, 1):
        assert _corr(rebuilt[..., c], given[..., c]) > 0.8


def test_a_single_photo_is_an_exemplar(tmp_path):
    rng = np.random.default_rng(5)
    photo = periodic_noise(rng, 96, beta=2.5, channels=3)[10:80, 3:90]  # a crop: does not tile
    Image.fromarray(_u8(0.5 + 0.15 * photo)).save(tmp_path / "IMG_2041.jpg")
    data, caught = _load(tmp_path)
    assert not caught and data.names == ["IMG_2041"] and data.stacks[0].shape == (5, 70, 87)
    assert data.periodic == [False] and data.normal_strengths == [None] == data.normal_strength
    assert data.median_normal_strength is None


def test_periodicity_tells_textures_from_crops():
    for preset in ("bricks", "cobblestones", "wood_planks"):
        albedo = make_material(preset, 0, 128)["albedo"]
        assert is_periodic(albedo)
        assert not is_periodic(albedo[40:, 33:])


def test_all_bad_folder_raises_one_sentence(tmp_path):
    bad = _bad_files(tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the error says it all; no warning as well
        with pytest.raises(DataError) as err:
            load_folder(tmp_path)
    message = str(err.value)
    assert message.startswith(f"No usable textures in '{tmp_path}'") and "3" in message
    assert "\n" not in message and all(name in message for name in bad)


def test_missing_and_imageless_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_folder(tmp_path / "nope")
    (tmp_path / "readme.txt").write_text("hi")
    with pytest.raises(DataError, match="no image files"):
        load_folder(tmp_path)


def test_images_over_max_pixels_are_skipped_before_decoding(tmp_path):
    write_png(tmp_path / "big.png", np.full((200, 100, 3), 0.3))
    write_png(tmp_path / "small_ok.png", np.full((40, 40, 3), 0.3))
    limit = Image.MAX_IMAGE_PIXELS
    for max_pixels in (15_000, 5_000):  # Pillow warns above 1x its limit and refuses above 2x
        data, caught = _load(tmp_path, max_pixels=max_pixels)
        assert data.names == ["small_ok"] and len(caught) == 1 and "big.png" in str(caught[0].message)
        assert "max_pixels" in data.skipped[0]
    assert Image.MAX_IMAGE_PIXELS == limit


def test_one_failing_set_does_not_stop_the_others(messy, monkeypatch):
    import trainer.folder as folder

    def boom(*args, **kwargs):
        raise MemoryError("pretend the normal map was enormous")

    monkeypatch.setattr(folder, "height_from_normal", boom)
    root = messy[0]
    data, caught = _load(root)
    assert "rock_wall_08" not in data.names and "bricks_000" in data.names and len(data.names) == 4
    assert "pretend the normal map was enormous" in str(caught[0].message) and len(caught) == 1


def test_frankot_chellappa_recovers_a_periodic_height():
    h = _smooth_height(1, 128)
    n = normal_from_height(h, 6.0)
    rec = height_from_normal(n)
    assert _corr(rec, h) > 0.99
    dx = n.copy()
    dx[..., 1] = 1.0 - dx[..., 1]  # the same surface, DirectX green
    assert _corr(height_from_normal(dx, directx=True), h) > 0.99
    assert _corr(height_from_normal(n, periodic=False), h) > 0.98  # mirrored integration


def test_strength_estimate_recovers_known_strength():
    h = _smooth_height(2)
    for strength in (2.0, 6.0, 15.0):
        n = normal_from_height(h, strength)
        assert estimate_normal_strength(h, n) == pytest.approx(strength, rel=0.1)
        assert estimate_normal_strength(height_from_normal(n), n) == pytest.approx(strength, rel=0.1)
    assert estimate_normal_strength(np.full((SIZE, SIZE), 0.5), n) is None


@pytest.mark.parametrize("material, check", [("Grass004", "resized"), ("coast_sand_rocks_02", "arm")])
def test_real_cc0_material(material, check):
    folder = CC0 / material
    if not folder.is_dir():
        pytest.skip(f"{folder} not present")
    data, caught = _load(folder)
    assert not caught and data.names == [material]
    s = data.stacks[0]
    assert s.shape == (5, 1024, 1024) and 0.0 <= s.min() and s.max() <= 1.0
    assert data.normal_strengths[0] is not None and data.normal_strengths[0] > 0  # OpenGL normals agree
    if check == "arm":
        assert "arm" in data.sources[0]["roughness"]


def test_downsample_shrinks_textures_and_their_relief(tmp_path):
    from trainer.data import folder_data, shrink

    a = np.arange(2 * 5 * 7, dtype=np.float32).reshape(2, 5, 7)
    small = shrink(a, 2)
    assert small.shape == (2, 2, 3)
    assert small[1, 1, 2] == a[1, 2:4, 4:6].mean()
    maps = make_material("bricks", 0, 256)
    for name, arr in maps.items():
        write_png(tmp_path / f"wall_{name}.png", arr, bits=16 if name == "height" else 8)
    full, half = folder_data(tmp_path, 32), folder_data(tmp_path, 32, downsample=2)
    assert half.stacks[0].shape[1:] == tuple(s // 2 for s in full.stacks[0].shape[1:])
    assert half.heldout[0].shape[1:] == tuple(s // 2 for s in full.heldout[0].shape[1:])
    assert half.normal_strength == pytest.approx(full.normal_strength / 2)
    assert "shrunk 2x" in half.description
