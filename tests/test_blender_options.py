"""Material and output options, and clean enable/disable, in real Blender."""
from __future__ import annotations

import numpy as np
import pytest

MODULE = "bl_ext.user_default.blender_texgan"


@pytest.fixture
def scene(blender):
    bpy = blender
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    settings = bpy.context.scene.texgan
    defaults = {name: getattr(settings, name) for name in
                ("real_size", "displacement", "normal_convention", "target", "slot", "output", "bit_depth",
                 "height_exr")}
    yield bpy
    for name, value in defaults.items():
        setattr(settings, name, value)


def _plane(bpy, size=2.0, location=(0, 0, 0)):
    bpy.ops.mesh.primitive_plane_add(size=size, location=location)
    return bpy.context.active_object


def test_saving_before_the_blend_has_a_file_is_one_clear_error(scene, tiny_model):
    bpy = scene
    bpy.context.scene.texgan.output = "SAVE"
    assert not bpy.data.filepath, "runs before any test saves the .blend"
    plane = _plane(bpy)
    before = ({m.name for m in bpy.data.materials}, {i.name for i in bpy.data.images})
    with pytest.raises(RuntimeError, match="Save the .blend file first"):
        bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32)
    assert ({m.name for m in bpy.data.materials}, {i.name for i in bpy.data.images}) == before
    assert plane.active_material is None


def test_real_world_size_sets_the_mapping_scale_and_displacement_method(scene, tiny_model):
    bpy = scene
    settings = bpy.context.scene.texgan
    settings.real_size, settings.displacement = 0.5, "BOTH"
    plane = _plane(bpy, size=2.0)
    bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32)
    material = plane.active_material
    assert tuple(material.node_tree.nodes["Mapping"].inputs["Scale"].default_value) == pytest.approx((4.0, 4.0, 1.0))
    assert material.displacement_method == "BOTH"
    frame = next(n for n in material.node_tree.nodes if n.bl_idname == "NodeFrame")
    images = [n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
    assert all(n.parent == frame for n in images)
    columns = sorted({round(n.location.x) for n in material.node_tree.nodes if n.parent is None and n != frame})
    assert len(columns) >= 4  # laid out left to right in columns


def test_directx_normals_are_stored_flipped_and_flipped_back(scene, tiny_model):
    bpy = scene
    bpy.context.scene.texgan.normal_convention = "DIRECTX"
    plane = _plane(bpy)
    bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32, seed=2)
    tree = plane.active_material.node_tree
    image = next(n.image for n in tree.nodes if n.bl_idname == "ShaderNodeTexImage" and n.label == "Normal")
    gen = __import__(f"{MODULE}.engine.generate", fromlist=["generate"])
    maps, _ = gen.generate(gen.GenerationRequest(str(tiny_model), 32, 2, "cpu", "numpy"))
    px = np.empty(32 * 32 * 4, np.float32)
    image.pixels.foreach_get(px)
    green = px.reshape(32, 32, 4)[::-1, :, 1]
    assert np.abs(green - (1.0 - maps["normal"][..., 1])).max() <= 1 / 255 + 1e-4
    normal_map = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeNormalMap")
    feeding = normal_map.inputs["Color"].links[0].from_node
    assert feeding.bl_idname == "ShaderNodeCombineColor"
    flip = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeMath")
    assert flip.operation == "SUBTRACT" and flip.inputs[0].default_value == 1.0


def test_apply_to_selected_objects_and_add_a_slot(scene, tiny_model):
    bpy = scene
    settings = bpy.context.scene.texgan
    a = _plane(bpy, location=(0, 0, 0))
    b = _plane(bpy, location=(3, 0, 0))
    old = bpy.data.materials.new("existing")
    a.data.materials.append(old)
    a.select_set(True)
    b.select_set(True)
    bpy.context.view_layer.objects.active = a
    settings.target, settings.slot = "SELECTED", "NEW_SLOT"
    bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32)
    new = a.active_material
    assert new.name.startswith("TexGAN") and [s.material for s in a.material_slots] == [old, new]
    assert b.active_material == new


def test_save_next_to_the_blend_with_relative_paths_16_bit_and_exr(scene, tiny_model, tmp_path):
    bpy = scene
    from PIL import Image
    settings = bpy.context.scene.texgan
    settings.output, settings.bit_depth, settings.height_exr = "SAVE", "16", True
    blend = tmp_path / "scene.blend"
    bpy.ops.wm.save_as_mainfile(filepath=str(blend))
    plane = _plane(bpy)
    bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32, seed=1)
    images = {n.label.lower(): n.image for n in plane.active_material.node_tree.nodes
              if n.bl_idname == "ShaderNodeTexImage"}
    files = sorted(p.name for p in (tmp_path / "textures").iterdir())
    assert files == ["TexGAN_tiny_s1_albedo.png", "TexGAN_tiny_s1_height.exr", "TexGAN_tiny_s1_normal.png",
                     "TexGAN_tiny_s1_roughness.png"]
    for image in images.values():
        assert image.filepath.startswith("//textures/") and image.packed_file is None
    assert Image.open(tmp_path / "textures" / "TexGAN_tiny_s1_roughness.png").mode.startswith("I")  # 16-bit grey
    assert images["height"].file_format == "OPEN_EXR" and images["height"].colorspace_settings.name == "Non-Color"
    assert images["albedo"].colorspace_settings.name == "sRGB"


def test_enable_disable_twenty_times_leaks_nothing(blender):
    bpy = blender
    import addon_utils

    def texgan_types():
        return sorted(name for name in dir(bpy.types) if name.startswith("TEXGAN_"))

    registered = texgan_types()
    assert registered
    handlers = {name: len(getattr(bpy.app.handlers, name)) for name in dir(bpy.app.handlers)
                if not name.startswith("_") and isinstance(getattr(bpy.app.handlers, name), list)}
    for _ in range(20):
        addon_utils.disable(MODULE)
        assert texgan_types() == [] and not hasattr(bpy.types.Scene, "texgan")
        addon_utils.enable(MODULE)
        assert texgan_types() == registered
    after = {name: len(getattr(bpy.app.handlers, name)) for name in handlers}
    assert after == handlers
    assert bpy.context.scene.texgan.resolution == 1024


def test_import_model_refuses_a_malformed_file_and_adds_a_good_one(blender, tiny_model, tmp_path):
    bpy = blender
    import addon_utils  # noqa: F401
    prefs = bpy.context.preferences.addons[MODULE].preferences
    prefs.models_dir = str(tmp_path / "library")
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(tiny_model.read_bytes()[:100])
    with pytest.raises(RuntimeError) as info:
        bpy.ops.texgan.import_model(filepath=str(bad))
    message = str(info.value).strip()
    assert "broken.safetensors" in message and "not imported" in message and "\n" not in message
    assert not (tmp_path / "library").exists() or not list((tmp_path / "library").iterdir())

    good = tmp_path / "my_model.safetensors"
    good.write_bytes(tiny_model.read_bytes())
    assert bpy.ops.texgan.import_model(filepath=str(good)) == {"FINISHED"}
    assert (tmp_path / "library" / "my_model.safetensors").exists()
    settings = bpy.context.scene.texgan
    assert settings.model == "user:my_model"
    assert settings.model_argument() == str(tmp_path / "library" / "my_model.safetensors")
    library = __import__(f"{MODULE}.engine.library", fromlist=["model_card"])
    card = library.model_card(settings.model_argument())
    assert card[0] == "test model" and any(line.startswith("Maps: albedo (sRGB)") for line in card)
    assert any(line.startswith("Licence:") for line in card)
    prefs.models_dir = ""
    settings.model = __import__(f"{MODULE}.engine.generate", fromlist=["DEFAULT_MODEL"]).DEFAULT_MODEL


def test_variations_gallery_creates_previews_and_frees_them_on_unregister(blender):
    bpy = blender
    import addon_utils
    gallery = __import__(f"{MODULE}.blender.gallery", fromlist=["variations"])
    bpy.context.scene.texgan.seed = 10
    assert bpy.ops.texgan.generate_variations(count=4) == {"FINISHED"}
    assert [seed for seed, _ in gallery.variations] == [10, 11, 12, 13]
    previews = gallery.collection()
    assert len(previews) == 4  # (icon ids stay 0 in background mode: Blender makes icons for a UI only)
    assert tuple(previews["seed_10"].image_size) == (128, 128)
    pixels = np.array(previews["seed_10"].image_pixels_float[:]).reshape(128, 128, 4)
    other = np.array(previews["seed_11"].image_pixels_float[:]).reshape(128, 128, 4)
    assert pixels[..., :3].std() > 0.01 and np.abs(pixels - other).mean() > 0.005
    addon_utils.disable(MODULE)
    try:
        assert gallery.collection() is None and gallery.variations == []
    finally:
        addon_utils.enable(MODULE)
    bpy.context.scene.texgan.seed = 0


def test_mark_as_asset_with_a_shaded_preview(scene, tiny_model):
    bpy = scene
    bpy.context.scene.texgan.mark_asset = True
    try:
        plane = _plane(bpy)
        bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=64, seed=3)
    finally:
        bpy.context.scene.texgan.mark_asset = False
    material = plane.active_material
    assert material.asset_data is not None
    assert "TexGAN" in [t.name for t in material.asset_data.tags]
    assert material.asset_data.description == "test model"
    preview = material.preview
    assert tuple(preview.image_size) == (128, 128)
    px = np.array(preview.image_pixels_float[:]).reshape(128, 128, 4)
    assert px[..., :3].std() > 0.005 and px[..., :3].max() <= 1.0


def test_panels_draw_without_errors_and_pass_the_model_to_the_operator(blender):
    """Every panel draws headless against the README pictures' recording layout (scripts.panel_picture),
    and Generate carries the chosen model and settings to the operator."""
    from scripts.panel_picture import leaves, record

    bpy = blender
    panels = __import__(f"{MODULE}.blender.panels", fromlist=["classes"])
    for cls in panels.classes:
        assert leaves(record(cls.draw, bpy.context)), cls.__name__
    items = leaves(record(panels.TEXGAN_PT_generate.draw, bpy.context))
    assert any(i.kind == "label" and i.text.startswith("Maps: albedo") for i in items)  # the model card
    generate = [i for i in items if i.kind == "operator" and i.idname == "texgan.generate_material"]
    settings = bpy.context.scene.texgan
    assert generate and generate[0].props["model"] == settings.model_argument()
    assert generate[0].props["resolution"] == settings.resolution and generate[0].props["mode"] == settings.mode
