"""Image to Material and Save as Model in real Blender, from the built zip: the panels in three
editors, the material wired like generated ones, the options, clean errors, and a photo model that
Generate and Variations then use. The translator is a stand-in (random weights) put where the
installed add-on looks for its bundled one."""
from __future__ import annotations

import shutil
import types

import numpy as np
import pytest
from conftest import (
    EXPECTED_NODES,
    LayoutRecorder,
    addon,
    column_convergence,
    datablocks,
    image_datablock,
    image_pixels,
    link_set,
    make_stand_in_translator,
    material_images,
    new_plane,
    smooth_photo,
    tilted_wall,
)

from blender_texgan.core.tiling import looks_periodic


@pytest.fixture(scope="module")
def translator_installed(blender, tmp_path_factory):
    """The stand-in translator as the installed add-on's bundled default, for this module only."""
    from pathlib import Path

    folder = Path(addon().__file__).parent / "models" / "translators"
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
    settings.image = image_datablock(bpy, "panel photo", smooth_photo(48, 48))
    for panel in editors.values():
        layout = LayoutRecorder()
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
    reference = new_plane(bpy)
    assert bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32, seed=0) == {"FINISHED"}
    generated = reference.active_material

    image_datablock(bpy, "Brick wall.png", smooth_photo(64, 80, seed=1))
    plane = new_plane(bpy)
    # The bundled (stand-in) translator, found where the add-on looks: no translator argument.
    assert bpy.ops.texgan.image_to_material(image="Brick wall.png", size=64, seed=2, engine="numpy") == {"FINISHED"}
    material = plane.active_material
    assert material.name == "TexGAN Brick_wall s2" and material["texgan"]["source"] == "photo"
    assert sorted(n.bl_idname for n in material.node_tree.nodes) == EXPECTED_NODES
    assert link_set(material.node_tree) == link_set(generated.node_tree)
    images = material_images(material)
    assert {k: v.colorspace_settings.name for k, v in images.items()} == {
        k: v.colorspace_settings.name for k, v in material_images(generated).items()}
    assert all(tuple(i.size) == (64, 64) and i.packed_file is not None for i in images.values())
    albedo = image_pixels(images["albedo"])
    assert looks_periodic(albedo) and albedo.std() > 0.02
    assert np.ptp(image_pixels(images["height"])) > 0  # relief from the translator


def test_options_off_and_files_and_linear_images(blender, tmp_path):
    bpy = blender
    from PIL import Image

    photo = smooth_photo(64, 80, seed=3)
    path = tmp_path / "plain photo.png"
    Image.fromarray((photo * 255 + 0.5).astype(np.uint8)).save(path)
    image = bpy.data.images.load(str(path))  # what the panel's Open button does
    bpy.context.scene.texgan.photo.image = image
    plane = new_plane(bpy)
    # No image argument: the one picked in the panel. Not seamless, no maps: the photo itself.
    assert bpy.ops.texgan.image_to_material(seamless=False, maps=False) == {"FINISHED"}
    images = material_images(plane.active_material)
    assert tuple(images["albedo"].size) == (80, 64)
    assert np.abs(image_pixels(images["albedo"]) - photo).max() <= 1.5 / 255
    assert np.ptp(image_pixels(images["height"])) == 0 and np.ptp(image_pixels(images["roughness"])) == 0

    # Seamless without maps: tileable albedo, flat relief, upscaled 2x.
    assert bpy.ops.texgan.image_to_material(maps=False, size=64, upscale=2) == {"FINISHED"}
    images = material_images(plane.active_material)
    assert tuple(images["albedo"].size) == (128, 128) and looks_periodic(image_pixels(images["albedo"]))
    assert np.ptp(image_pixels(images["height"])) == 0

    # A float (scene-linear) image is read back as the sRGB photo it shows.
    read_photo = addon("blender.photo").read_photo
    linear = image_datablock(bpy, "linear", np.where(photo <= 0.04045, photo / 12.92, ((photo + 0.055) / 1.055) ** 2.4),
                    float_buffer=True)
    assert np.abs(read_photo(linear) - photo).max() < 1e-3
    assert np.abs(read_photo(image) - photo).max() <= 0.5 / 255 + 1e-6
    bpy.context.scene.texgan.photo.image = None


def test_a_photo_in_perspective_is_straightened_unless_unticked(blender):
    bpy = blender
    assert bpy.context.scene.texgan.photo.straighten  # on by default
    image_datablock(bpy, "tilted wall", tilted_wall())
    plane = new_plane(bpy)
    convergence = {}
    for straighten in (True, False):
        assert bpy.ops.texgan.image_to_material(image="tilted wall", maps=False, size=128,
                                                straighten=straighten) == {"FINISHED"}
        albedo = image_pixels(material_images(plane.active_material)["albedo"])
        assert looks_periodic(albedo)
        convergence[straighten] = abs(column_convergence(np.ascontiguousarray(albedo)))
    assert convergence[True] < 0.06 < convergence[False], convergence


def test_bad_input_is_one_error_line_and_creates_nothing(blender, tmp_path):
    bpy = blender
    plane = new_plane(bpy)
    missing = bpy.data.images.new("gone.png", 8, 8)
    missing.source, missing.filepath = "FILE", str(tmp_path / "gone.png")  # its file is not there
    image_datablock(bpy, "tiny", smooth_photo(16, 16))
    image_datablock(bpy, "strip", smooth_photo(48, 48))
    cases = [({}, "Pick an image first"), ({"image": "gone.png"}, "has no pixels: its file could not be loaded"),
             ({"image": "tiny"}, "too small"), ({"image": "nothing"}, "no image named 'nothing'"),
             ({"image": "strip", "upscale": 3, "maps": False}, "Upscale must be 1, 2 or 4")]
    before = datablocks(bpy)
    for kwargs, message in cases:
        with pytest.raises(RuntimeError) as info:
            bpy.ops.texgan.image_to_material(**kwargs)
        text = str(info.value).strip()
        assert message in text and "\n" not in text and "Traceback" not in text, text
        assert datablocks(bpy) == before and plane.active_material is None
    with pytest.raises(RuntimeError, match="Pick an image first"):
        bpy.ops.texgan.save_photo_model()


def test_save_as_model_then_generate_and_variations_use_it(blender, translator_installed):
    bpy = blender
    settings = bpy.context.scene.texgan
    previous = settings.model
    image_datablock(bpy, "Cobbles.jpg", smooth_photo(64, 64, seed=4))
    assert bpy.ops.texgan.save_photo_model(image="Cobbles.jpg", engine="numpy") == {"FINISHED"}
    assert settings.model == "user:Cobbles"
    path = settings.model_argument()
    assert path.endswith("Cobbles.safetensors")
    card = addon("engine.library").model_card(path)
    assert "Made from the photo 'Cobbles.jpg'" in card[0]

    plane = new_plane(bpy)
    assert bpy.ops.texgan.generate_material(model=path, resolution=64, seed=5, engine="numpy") == {"FINISHED"}
    albedo = image_pixels(material_images(plane.active_material)["albedo"])
    assert looks_periodic(albedo) and albedo.std() > 0.02
    assert bpy.ops.texgan.generate_variations(count=2) == {"FINISHED"}
    assert [seed for seed, _ in addon("blender.gallery").variations] == [settings.seed, settings.seed + 1]
    with pytest.raises(RuntimeError, match="made from a photo and has no trained network"):
        bpy.ops.texgan.generate_material(model=path, resolution=64, mode="neural", engine="numpy")
    settings.model = previous
