"""Image to Material and Save as Model in real Blender, from the built zip: the panels in three
editors, the material wired like generated ones, the options, clean errors, and a photo model that
Generate and Variations then use. The translator is a stand-in (random weights) put where the
installed add-on looks for its bundled one."""
from __future__ import annotations

import importlib
import shutil
import types

import numpy as np
import pytest
from conftest import make_stand_in_translator, smooth_photo
from test_blender_addon import EXPECTED_NODES, _datablocks, _link_set, _new_plane

from blender_texgan.core.tiling import looks_periodic

ADDON = "bl_ext.user_default.blender_texgan"


def _addon(name: str = ""):
    return importlib.import_module(f"{ADDON}.{name}" if name else ADDON)


@pytest.fixture(scope="module")
def translator_installed(blender, tmp_path_factory):
    """The stand-in translator as the installed add-on's bundled default, for this module only."""
    from pathlib import Path

    folder = Path(_addon().__file__).parent / "models" / "translators"
    target = folder / "photo_to_pbr.safetensors"
    backup = tmp_path_factory.mktemp("bundled") / target.name
    if target.exists():  # a real bundled translator: put it back afterwards
        shutil.copyfile(target, backup)
    folder.mkdir(parents=True, exist_ok=True)
    make_stand_in_translator(target)
    yield target
    if backup.exists():
        shutil.copyfile(backup, target)
    else:
        target.unlink()


def _image(bpy, name: str, photo: np.ndarray, float_buffer: bool = False):
    """An Image datablock holding `photo` ((H, W, 3) in [0, 1], top row first)."""
    h, w = photo.shape[:2]
    image = bpy.data.images.new(name, w, h, alpha=True, float_buffer=float_buffer)
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = photo
    image.pixels.foreach_set(rgba[::-1].ravel())
    return image


def _material_images(material) -> dict:
    return {n.label.lower(): n.image for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"}


def _pixels(image) -> np.ndarray:
    w, h = image.size
    px = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(px)
    return px.reshape(h, w, 4)[::-1, :, :3]


class _Recorder:
    """Stands in for UILayout: records every call; sub-layouts record into the same list."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return types.SimpleNamespace() if name == "operator" else self
        return call


def test_the_panel_is_in_three_sidebars_and_draws(blender):
    bpy = blender
    editors = {}
    for idname in ("TEXGAN_PT_photo", "TEXGAN_PT_photo_shader", "TEXGAN_PT_photo_image"):
        panel = getattr(bpy.types, idname)
        assert (panel.bl_region_type, panel.bl_category, panel.bl_label) == ("UI", "TexGAN", "Image to Material")
        editors[panel.bl_space_type] = panel
    assert set(editors) == {"VIEW_3D", "NODE_EDITOR", "IMAGE_EDITOR"}
    for space, parent in editors.items():  # Material and Variations of This under it, in the same editor
        subs = {p.bl_label for p in bpy.types.Panel.__subclasses__()
                if getattr(p, "bl_parent_id", "") == parent.bl_idname and p.bl_space_type == space}
        assert subs == {"Material", "Variations of This"}, (space, subs)
    assert {"image_to_material", "save_photo_model"} <= set(dir(bpy.ops.texgan))

    settings = bpy.context.scene.texgan.photo
    settings.image = _image(bpy, "panel photo", smooth_photo(48, 48))
    for panel in editors.values():
        layout = _Recorder()
        panel.draw(types.SimpleNamespace(layout=layout), bpy.context)
        names = [c[0] for c in layout.calls]
        template = next(c for c in layout.calls if c[0] == "template_ID")
        assert template[1] == (settings, "image") and template[2]["open"] == "image.open"
        operators = [c[1][0] for c in layout.calls if c[0] == "operator"]
        assert operators == ["texgan.image_to_material", "texgan.save_photo_model"], names
        drawn = {c[1][1] for c in layout.calls if c[0] == "prop"}
        assert {"seamless", "size", "upscale", "seed", "maps", "straighten"} <= drawn
    bpy.data.images.remove(settings.image)


def test_image_to_material_wires_the_material_like_generated_ones(blender, translator_installed, tiny_model):
    bpy = blender
    reference = _new_plane(bpy)
    assert bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32, seed=0) == {"FINISHED"}
    generated = reference.active_material

    _image(bpy, "Brick wall.png", smooth_photo(64, 80, seed=1))
    plane = _new_plane(bpy)
    # The bundled (stand-in) translator, found where the add-on looks: no translator argument.
    assert bpy.ops.texgan.image_to_material(image="Brick wall.png", size=64, seed=2, engine="numpy") == {"FINISHED"}
    material = plane.active_material
    assert material.name == "TexGAN Brick_wall s2" and material["texgan"]["source"] == "photo"
    assert sorted(n.bl_idname for n in material.node_tree.nodes) == EXPECTED_NODES
    assert _link_set(material.node_tree) == _link_set(generated.node_tree)
    images = _material_images(material)
    assert {k: v.colorspace_settings.name for k, v in images.items()} == {
        k: v.colorspace_settings.name for k, v in _material_images(generated).items()}
    assert all(tuple(i.size) == (64, 64) and i.packed_file is not None for i in images.values())
    albedo = _pixels(images["albedo"])
    assert looks_periodic(albedo) and albedo.std() > 0.02
    assert np.ptp(_pixels(images["height"])) > 0  # relief from the translator


def test_options_off_and_files_and_linear_images(blender, tmp_path):
    bpy = blender
    from PIL import Image

    photo = smooth_photo(64, 80, seed=3)
    path = tmp_path / "plain photo.png"
    Image.fromarray((photo * 255 + 0.5).astype(np.uint8)).save(path)
    image = bpy.data.images.load(str(path))  # what the panel's Open button does
    bpy.context.scene.texgan.photo.image = image
    plane = _new_plane(bpy)
    # No image argument: the one picked in the panel. Not seamless, no maps: the photo itself.
    assert bpy.ops.texgan.image_to_material(seamless=False, maps=False) == {"FINISHED"}
    images = _material_images(plane.active_material)
    assert tuple(images["albedo"].size) == (80, 64)
    assert np.abs(_pixels(images["albedo"]) - photo).max() <= 1.5 / 255
    assert np.ptp(_pixels(images["height"])) == 0 and np.ptp(_pixels(images["roughness"])) == 0

    # Seamless without maps: tileable albedo, flat relief, upscaled 2x.
    assert bpy.ops.texgan.image_to_material(maps=False, size=64, upscale=2) == {"FINISHED"}
    images = _material_images(plane.active_material)
    assert tuple(images["albedo"].size) == (128, 128) and looks_periodic(_pixels(images["albedo"]))
    assert np.ptp(_pixels(images["height"])) == 0

    # A float (scene-linear) image is read back as the sRGB photo it shows.
    read_photo = _addon("blender.photo").read_photo
    linear = _image(bpy, "linear", np.where(photo <= 0.04045, photo / 12.92, ((photo + 0.055) / 1.055) ** 2.4),
                    float_buffer=True)
    assert np.abs(read_photo(linear) - photo).max() < 1e-3
    assert np.abs(read_photo(image) - photo).max() <= 0.5 / 255 + 1e-6
    bpy.context.scene.texgan.photo.image = None


def test_a_photo_in_perspective_is_straightened_unless_unticked(blender):
    from test_perspective import DISTANCE, SIDE, brick_columns, column_convergence, seen_in_perspective

    bpy = blender
    assert bpy.context.scene.texgan.photo.straighten  # on by default
    _image(bpy, "tilted wall", seen_in_perspective(brick_columns(2 * SIDE), SIDE, DISTANCE))
    plane = _new_plane(bpy)
    convergence = {}
    for straighten in (True, False):
        assert bpy.ops.texgan.image_to_material(image="tilted wall", maps=False, size=128,
                                                straighten=straighten) == {"FINISHED"}
        albedo = _pixels(_material_images(plane.active_material)["albedo"])
        assert looks_periodic(albedo)
        convergence[straighten] = abs(column_convergence(np.ascontiguousarray(albedo)))
    assert convergence[True] < 0.06 < convergence[False], convergence


def test_bad_input_is_one_error_line_and_creates_nothing(blender, tmp_path):
    bpy = blender
    plane = _new_plane(bpy)
    missing = bpy.data.images.new("gone.png", 8, 8)
    missing.source, missing.filepath = "FILE", str(tmp_path / "gone.png")  # its file is not there
    _image(bpy, "tiny", smooth_photo(16, 16))
    _image(bpy, "strip", smooth_photo(48, 48))
    cases = [({}, "Pick an image first"), ({"image": "gone.png"}, "has no pixels: its file could not be loaded"),
             ({"image": "tiny"}, "too small"), ({"image": "nothing"}, "no image named 'nothing'"),
             ({"image": "strip", "upscale": 3, "maps": False}, "Upscale must be 1, 2 or 4")]
    before = _datablocks(bpy)
    for kwargs, message in cases:
        with pytest.raises(RuntimeError) as info:
            bpy.ops.texgan.image_to_material(**kwargs)
        text = str(info.value).strip()
        assert message in text and "\n" not in text and "Traceback" not in text, text
        assert _datablocks(bpy) == before and plane.active_material is None
    with pytest.raises(RuntimeError, match="Pick an image first"):
        bpy.ops.texgan.save_photo_model()


def test_save_as_model_then_generate_and_variations_use_it(blender, translator_installed):
    bpy = blender
    settings = bpy.context.scene.texgan
    previous = settings.model
    _image(bpy, "Cobbles.jpg", smooth_photo(64, 64, seed=4))
    assert bpy.ops.texgan.save_photo_model(image="Cobbles.jpg", engine="numpy") == {"FINISHED"}
    assert settings.model == "user:Cobbles"
    path = settings.model_argument()
    assert path.endswith("Cobbles.safetensors")
    card = _addon("engine.library").model_card(path)
    assert "Made from the photo 'Cobbles.jpg'" in card[0]

    plane = _new_plane(bpy)
    assert bpy.ops.texgan.generate_material(model=path, resolution=64, seed=5, engine="numpy") == {"FINISHED"}
    albedo = _pixels(_material_images(plane.active_material)["albedo"])
    assert looks_periodic(albedo) and albedo.std() > 0.02
    assert bpy.ops.texgan.generate_variations(count=2) == {"FINISHED"}
    assert [seed for seed, _ in _addon("blender.gallery").variations] == [settings.seed, settings.seed + 1]
    with pytest.raises(RuntimeError, match="made from a photo and has no trained network"):
        bpy.ops.texgan.generate_material(model=path, resolution=64, mode="neural", engine="numpy")
    settings.model = previous
