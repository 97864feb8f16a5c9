"""Photo -> material (engine.photo.pipeline) and photo -> model (engine.photo.save_as_model), without Blender:
the pipeline behind the add-on's Image to Material panel, on a stand-in translator."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import TILTED_SIDE, column_convergence, smooth_photo, tilted_wall

from blender_texgan.core.modelfile import read_model_file
from blender_texgan.core.tiling import looks_periodic, seam_ratio
from blender_texgan.engine import library
from blender_texgan.engine.generate import GenerationCancelled, GenerationError, GenerationRequest, generate
from blender_texgan.engine.jobs import CANCELLED, DONE, JobRunner
from blender_texgan.engine.photo.pipeline import (
    PhotoRequest,
    linear_to_srgb,
    photo_from_pixels,
    photo_runner,
    photo_to_material,
)
from blender_texgan.engine.photo.save_as_model import (
    PhotoModelRequest,
    fit_normal_strength,
    free_model_path,
    safe_model_name,
    save_photo_model,
)

SHAPES = {"albedo": 3, "normal": 3, "roughness": 1, "height": 1}


def _check_map_set(maps, side):
    assert {k: v.shape for k, v in maps.items()} == {k: (side[0], side[1], c) for k, c in SHAPES.items()}
    for name, array in maps.items():
        assert array.dtype == np.float32 and 0.0 <= array.min() and array.max() <= 1.0, name


def test_blender_pixels_become_a_top_down_srgb_photo():
    rgba = np.zeros((2, 3, 4), np.float32)  # Blender's rows run bottom to top
    rgba[0, :, :3] = 0.25                   # the bottom row
    rgba[1, :, :3] = 0.75
    rgba[..., 3] = 0.1                      # alpha is dropped
    photo = photo_from_pixels(rgba.ravel(), 3, 2, 4, linear=False)
    assert photo.shape == (2, 3, 3) and np.allclose(photo[0], 0.75) and np.allclose(photo[1], 0.25)
    grey = photo_from_pixels(np.array([0.2, 0.4, 0.6, 0.8], np.float32), 2, 2, 1, linear=False)
    assert grey.shape == (2, 2, 3) and np.allclose(grey[0, 1], 0.8)  # grey kept, as RGB
    linear = photo_from_pixels(np.full(2 * 2 * 4, 0.2140, np.float32), 2, 2, 4, linear=True)
    assert np.allclose(linear, 0.5, atol=1e-3)  # linear 0.214 is sRGB 0.5
    assert float(linear_to_srgb(np.array([2.0]))[0]) == pytest.approx(1.0, abs=1e-6)  # HDR is clipped


def test_seamless_photo_with_maps_tiles_and_keeps_the_photo_look(stand_in_translator):
    photo = smooth_photo(64, 80)
    seen = []
    request = PhotoRequest(size=64, translator=str(stand_in_translator), engine="numpy", seed=3)
    maps = photo_to_material(photo, request, progress=seen.append)
    _check_map_set(maps, (64, 64))
    assert looks_periodic(maps["albedo"])
    for name in ("albedo", "height", "roughness", "normal"):  # no seam in any map
        assert seam_ratio(maps[name]) < 1.5, name
    assert seen == sorted(seen) and seen[-1] == 1.0


def test_options_off_give_the_photo_itself_with_flat_relief():
    photo = smooth_photo(64, 80)
    maps = photo_to_material(photo, PhotoRequest(seamless=False, maps=False))
    _check_map_set(maps, (64, 80))
    assert np.array_equal(maps["albedo"], photo)
    assert np.ptp(maps["height"]) == 0 and np.allclose(maps["normal"], [0.5, 0.5, 1.0])
    big = photo_to_material(photo, PhotoRequest(seamless=False, maps=False, upscale=2))
    assert big["albedo"].shape == (128, 160, 3)
    # Mirrored, not wrapped, past the borders: the left column keeps the photo's left column.
    assert np.abs(big["albedo"][:, 0] - np.repeat(photo[:, 0], 2, axis=0)).mean() < 0.08
    rgba_grey = photo_to_material(photo[..., :1], PhotoRequest(seamless=False, maps=False))
    assert np.array_equal(rgba_grey["albedo"][..., 0], rgba_grey["albedo"][..., 2])


@pytest.mark.parametrize("photo, request_, message", [
    (np.zeros((20, 200, 3), np.float32), PhotoRequest(size=64, maps=False), "too small"),
    (smooth_photo(64, 64), PhotoRequest(size=64, upscale=3, maps=False), "Upscale must be 1, 2 or 4"),
    (smooth_photo(64, 64), PhotoRequest(size=4096, upscale=4, maps=False), "at most 8192"),
    (np.full((64, 64, 3), np.nan, np.float32), PhotoRequest(maps=False), "NaN"),
])
def test_bad_photos_and_requests_are_one_sentence(photo, request_, message):
    with pytest.raises(GenerationError, match=message) as info:
        photo_to_material(photo, request_)
    assert "\n" not in str(info.value)


def test_without_a_translator_the_classical_maps_serve(tmp_path, monkeypatch):
    monkeypatch.setattr(library, "TRANSLATORS_DIR", tmp_path)  # no bundled translator
    from blender_texgan.core.photo.classical_maps import classical_maps

    maps = photo_to_material(smooth_photo(64, 64), PhotoRequest(size=64))
    assert looks_periodic(maps["albedo"])
    assert maps["height"].std() > 0.01 and maps["roughness"].std() > 0.001  # relief, not flat
    again = classical_maps(maps["albedo"], periodic=True)
    assert np.allclose(again["normal"], maps["normal"]) and np.allclose(again["height"], maps["height"])
    # The maps wrap exactly: the classical maps of a rolled texture are the rolled maps.
    rolled = classical_maps(np.roll(maps["albedo"], (5, 9), (0, 1)), periodic=True)
    for name in ("normal", "height", "roughness"):
        assert np.allclose(rolled[name], np.roll(again[name], (5, 9), (0, 1)), atol=1e-5), name
    with pytest.raises(GenerationError, match="Unknown translator 'nope'"):
        photo_to_material(smooth_photo(64, 64), PhotoRequest(size=64, translator="nope"))


def test_photo_jobs_run_on_the_job_system_and_cancel(stand_in_translator):
    photo = smooth_photo(64, 64)
    request = PhotoRequest(size=64, translator=str(stand_in_translator), engine="numpy", name="wall")
    with pytest.raises(GenerationCancelled):
        photo_to_material(photo, request, should_stop=lambda: True)
    runner = JobRunner()
    job = runner.submit(request, run=photo_runner(photo), prepare=lambda maps: {"prepared": maps})
    assert job.wait(120) and job.state == DONE, job.error
    prepared, manifest = job.result
    assert manifest["name"] == "wall" and "wall" in manifest["description"] and job.progress == 1.0
    _check_map_set(prepared["prepared"], (64, 64))
    job = runner.submit(request, run=photo_runner(photo))
    job.cancel()
    assert job.wait(120) and job.state == CANCELLED and job.result is None


def test_model_names_are_safe_and_never_replace_a_model(tmp_path):
    assert safe_model_name("My wall.JPG") == "My_wall" and safe_model_name("../..") == "photo"
    assert safe_model_name("brick.001") == "brick_001"
    (tmp_path / "wall.safetensors").write_bytes(b"")
    (tmp_path / "wall_2.safetensors").write_bytes(b"")
    assert free_model_path(tmp_path, "wall").name == "wall_3.safetensors"
    with pytest.raises(GenerationCancelled):  # cancelled: nothing is written
        save_photo_model(smooth_photo(64, 64), PhotoModelRequest("wall", str(tmp_path), maps=False),
                         should_stop=lambda: True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["wall.safetensors", "wall_2.safetensors"]


def test_normal_strength_is_fitted_to_the_translators_normals():
    from blender_texgan.core.normals import normal_from_height

    height = smooth_photo(64, 64)[..., :1]
    assert fit_normal_strength(height, normal_from_height(height[..., 0], 12.0)) == pytest.approx(12.0, rel=0.05)
    assert fit_normal_strength(np.full((32, 32, 1), 0.5), np.full((32, 32, 3), 0.5)) == 8.0  # flat: the default


def test_a_photo_saved_as_a_model_loads_and_generates_periodic_textures(tmp_path, stand_in_translator):
    photo = smooth_photo(64, 96, seed=2)
    request = PhotoModelRequest("Old wall.png", str(tmp_path / "library"), translator=str(stand_in_translator),
                                engine="numpy", source="Old wall.png")
    path, manifest = save_photo_model(photo, request)
    assert path.name == "Old_wall.safetensors"
    model = read_model_file(path)  # fully validated: manifest, placeholder net, exemplar
    assert model.exemplar.shape == (64, 96, 5) and model.manifest["exemplar"]["default_mode"] == "random"
    assert model.manifest["photo"]["source"] == "Old wall.png" and model.manifest["network"] == "none"
    assert np.ptp(model.exemplar[..., 3]) > 0  # height came from the translator
    card = library.model_card(path)
    assert "Made from the photo 'Old wall.png'" in card[0]
    assert [e.name for e in library.list_models([tmp_path / "library"]) if e.source != "bundled"] == ["Old_wall"]

    maps, _ = generate(GenerationRequest(str(path), 64, seed=1, engine="numpy"))  # auto: random
    _check_map_set(maps, (64, 64))
    assert looks_periodic(maps["albedo"]) and looks_periodic(maps["height"])
    blended, _ = generate(GenerationRequest(str(path), 64, seed=1, engine="numpy", mode="blend"))
    assert looks_periodic(blended["albedo"])
    for mode in ("neural", "refined"):  # no trained network: one clear line
        with pytest.raises(GenerationError, match="made from a photo and has no trained network") as info:
            generate(GenerationRequest(str(path), 64, seed=1, engine="numpy", mode=mode))
        assert "\n" not in str(info.value)

    flat_path, flat = save_photo_model(photo, PhotoModelRequest("Old wall", str(tmp_path / "library"), maps=False))
    assert flat_path.name == "Old_wall_2.safetensors" and "flat relief" in flat["description"]
    flat_exemplar = read_model_file(flat_path).exemplar
    assert np.ptp(flat_exemplar[..., 3]) == 0 and np.ptp(flat_exemplar[..., 4]) == 0


def test_a_photo_in_perspective_is_saved_as_a_model_straightened(tmp_path):
    photo = tilted_wall()
    fans = {}
    for straighten in (True, False):
        path, _ = save_photo_model(photo, PhotoModelRequest(f"wall {straighten}", str(tmp_path), maps=False,
                                                            straighten=straighten))
        exemplar = read_model_file(path).exemplar
        assert exemplar.shape == (TILTED_SIDE, TILTED_SIDE, 5)
        fans[straighten] = abs(column_convergence(np.ascontiguousarray(exemplar[..., :3])))
    assert fans[True] < 0.06 < fans[False], fans
