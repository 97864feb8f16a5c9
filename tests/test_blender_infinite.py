"""The infinite material in real Blender: built by the zip-installed add-on, rendered with Cycles,
baked and compared with core.infinite's numpy reference, shared between objects, packed or saved as
the Output setting says, and bad input leaving nothing behind (issue 24)."""
from __future__ import annotations

import json
import math
import struct

import numpy as np
import pytest
from conftest import ADDON, brick_exemplar, make_tiny_model, run_blender_script, smooth_photo

from blender_texgan.core import infinite
from blender_texgan.core.modelfile import read_model_file
from blender_texgan.engine.infinite import normal_strength

BAKE = 64           # bake side in pixels: a 2 m plane, so an exemplar pixel is a few bake pixels
SCALE, SEED = 0.7, 3

pytestmark = pytest.mark.blender


@pytest.fixture
def infinite_scene(blender):
    """Infinite output, packed, a fresh scene; the settings go back to their defaults afterwards."""
    bpy = blender
    settings = bpy.context.scene.texgan
    settings.surface, settings.output, settings.target, settings.real_size = "INFINITE", "PACK", "ACTIVE", 1.0
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    yield bpy
    settings.surface = "BAKED"


def _plane(bpy, size=2.0, location=(0.0, 0.0, 0.0)):
    bpy.ops.object.select_all(action="DESELECT")
    bpy.ops.mesh.primitive_plane_add(size=size, location=location)
    return bpy.context.active_object


def _groups(bpy):
    return [g for g in bpy.data.node_groups if g.get("texgan_infinite")]


def _datablocks(bpy):
    return ({m.name for m in bpy.data.materials}, {i.name for i in bpy.data.images},
            {g.name for g in bpy.data.node_groups})


def _group_node(material):
    return next(n for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeGroup")


def _bake(bpy, plane, group, output: str) -> np.ndarray:
    """Cycles bake (Emit) of one group output (None: the object coordinates fed to the group) over
    the plane's UV square -> (BAKE, BAKE, 3), rows top down."""
    material = bpy.data.materials.new("bake probe")
    material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    coord, node = tree.nodes.new("ShaderNodeTexCoord"), tree.nodes.new("ShaderNodeGroup")
    node.node_tree = group
    node.inputs["Scale"].default_value, node.inputs["Seed"].default_value = SCALE, SEED  # unused for None
    emit, out = tree.nodes.new("ShaderNodeEmission"), tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(coord.outputs["Object"], node.inputs["Vector"])
    tree.links.new(node.outputs[output] if output else coord.outputs["Object"], emit.inputs["Color"])
    tree.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    target = bpy.data.images.new("bake target", BAKE, BAKE, alpha=False, float_buffer=True)
    target.colorspace_settings.name = "Non-Color"
    holder = tree.nodes.new("ShaderNodeTexImage")
    holder.image = target
    tree.nodes.active = holder
    plane.data.materials.clear()
    plane.data.materials.append(material)
    scene = bpy.context.scene
    scene.render.engine, scene.cycles.device, scene.cycles.samples = "CYCLES", "CPU", 1
    scene.render.bake.margin = 0
    bpy.context.view_layer.objects.active = plane
    plane.select_set(True)
    assert bpy.ops.object.bake(type="EMIT") == {"FINISHED"}
    px = np.empty(BAKE * BAKE * 4, np.float32)
    target.pixels.foreach_get(px)
    bpy.data.images.remove(target)
    bpy.data.materials.remove(material)
    return px.reshape(BAKE, BAKE, 4)[::-1, :, :3].astype(np.float64)


def test_bake_of_the_group_equals_the_numpy_reference(infinite_scene, exemplar_model):
    bpy = infinite_scene
    plane = _plane(bpy)
    assert bpy.ops.texgan.generate_material(model=str(exemplar_model), resolution=64, seed=SEED) == {"FINISHED"}
    material = plane.active_material
    assert material["texgan"]["infinite"] and material.name.endswith("infinite")
    group = _group_node(material).node_tree
    albedo = _bake(bpy, plane, group, "Base Color")
    rough = _bake(bpy, plane, group, "Roughness")[..., 0]
    height = _bake(bpy, plane, group, "Height")[..., 0]
    normal = _bake(bpy, plane, group, "Normal")

    model = read_model_file(exemplar_model)
    prepared = infinite.prepare(model.exemplar, normal_strength(model.manifest))
    assert group["texgan_infinite"] == prepared.key
    # Where Cycles shaded each bake pixel, to float32 precision (an exemplar pixel here is 1/90 m, and
    # the Gaussian images change by up to ~3 per pixel): the reference is evaluated at those points.
    coords = _bake(bpy, plane, group, None)
    c = (np.arange(BAKE) + 0.5) / BAKE * 2.0 - 1.0
    assert np.abs(coords[..., 0] - c[None, :]).max() < 1e-3 and np.abs(coords[..., 1] - c[::-1, None]).max() < 1e-3
    x, y = coords[..., 0], coords[..., 1]
    gauss = infinite.blended_gaussian(prepared, x, y, SCALE, SEED)
    expected = infinite.from_gaussian(prepared, gauss)
    for got, want in ((infinite.linear_to_srgb(albedo), infinite.linear_to_srgb(expected[..., :3])),
                      (height, expected[..., 3]),
                      (rough, expected[..., 4])):
        diff = np.abs(got - want).reshape(BAKE, BAKE, -1).max(axis=-1)
        assert diff.mean() <= 1 / 255, diff.mean() * 255
        assert diff.max() <= 1 / 255, diff.max() * 255  # the issue asks 4/255; measured 0.002/255
    want_normal = infinite.blended_normal(prepared, x, y, SCALE, SEED) * 0.5 + 0.5
    assert np.abs(normal - want_normal).max() <= 1 / 255 and want_normal[..., :2].std() > 0.02
    assert expected[..., :3].std() > 0.05  # the comparison is of a textured result, not a flat one


def test_cycles_renders_the_infinite_material(infinite_scene, exemplar_model, tmp_path):
    bpy = infinite_scene
    from PIL import Image

    plane = _plane(bpy, size=4.0)
    bpy.ops.texgan.generate_material(model=str(exemplar_model), resolution=64, seed=1)
    bpy.ops.object.camera_add(location=(0, 0, 4.0))
    scene = bpy.context.scene
    scene.camera = bpy.context.active_object
    bpy.ops.object.light_add(type="SUN", rotation=(math.radians(30), 0, 0))
    scene.render.engine, scene.cycles.device, scene.cycles.samples = "CYCLES", "CPU", 2
    scene.render.resolution_x = scene.render.resolution_y = 32
    scene.render.filepath = str(tmp_path / "render.png")
    bpy.ops.render.render(write_still=True)
    img = np.asarray(Image.open(tmp_path / "render.png").convert("RGB"), np.float32) / 255.0
    assert img[8:24, 8:24].mean() > 0.02 and img[8:24, 8:24].std() > 0.01
    assert plane.active_material["texgan"]["infinite"]


def test_two_objects_share_one_group_and_its_images(infinite_scene, exemplar_model):
    bpy = infinite_scene
    a = _plane(bpy)
    bpy.ops.texgan.generate_material(model=str(exemplar_model), resolution=64, seed=1)
    groups, images = len(bpy.data.node_groups), len(bpy.data.images)
    b = _plane(bpy, location=(3.0, 0.0, 0.0))
    bpy.ops.texgan.generate_material(model=str(exemplar_model), resolution=64, seed=2)
    assert (len(bpy.data.node_groups), len(bpy.data.images)) == (groups, images)
    ga, gb = _group_node(a.active_material), _group_node(b.active_material)
    assert ga.node_tree == gb.node_tree and len(_groups(bpy)) == 1
    assert (ga.inputs["Seed"].default_value, gb.inputs["Seed"].default_value) == (1.0, 2.0)
    parts = [n.image for n in ga.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
    assert len({p.name for p in parts}) == 2  # the tables are curves in the group, not an image
    for image in {p.name: p for p in parts}.values():  # packed, colour space for data
        assert image.packed_file is not None and image.colorspace_settings.name == "Non-Color"
    depths = {p.name.rpartition(" ")[2]: (p.file_format, p.depth) for p in parts}
    assert depths == {"albedo": ("PNG", 96), "relief": ("PNG", 128)}
    # a group of an earlier layout (a .blend made before the slots by colour) stays with its
    # materials, and a new material gets a group of the current layout
    old = ga.node_tree
    assert old["texgan_infinite_version"] == 2
    old["texgan_infinite_version"] = 1
    c = _plane(bpy, location=(6.0, 0.0, 0.0))
    try:
        bpy.ops.texgan.generate_material(model=str(exemplar_model), resolution=64, seed=3)
        new = _group_node(c.active_material).node_tree
        assert new != old and new["texgan_infinite_version"] == 2 and len(_groups(bpy)) == 2
        assert _group_node(a.active_material).node_tree == old
    finally:  # the session's later tests find the one group of the current layout again
        old["texgan_infinite_version"] = 2
        for group in [g for g in _groups(bpy) if g != old]:
            images = {n.image for n in group.nodes if n.bl_idname == "ShaderNodeTexImage"}
            for material in [m for m in bpy.data.materials if m.node_tree and any(
                    n.bl_idname == "ShaderNodeGroup" and n.node_tree == group for n in m.node_tree.nodes)]:
                bpy.data.materials.remove(material)
            bpy.data.node_groups.remove(group)
            for image in images:
                bpy.data.images.remove(image)


def _corrupt_exemplar_block(path, out):
    """The model file with its manifest's exemplar height changed: the tensors no longer match it."""
    data = path.read_bytes()
    size = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + size])
    meta = header["__metadata__"]
    key = next(k for k, v in meta.items() if '"exemplar"' in v)
    manifest = json.loads(meta[key])
    manifest["exemplar"]["height"] = manifest["exemplar"]["height"] + 3
    meta[key] = json.dumps(manifest)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    out.write_bytes(struct.pack("<Q", len(text)) + text + data[8 + size:])
    return out


@pytest.mark.parametrize("kind", ["no_exemplar", "translator", "corrupt_exemplar"])
def test_bad_input_is_one_line_and_leaves_nothing(infinite_scene, kind, tiny_model, stand_in_translator,
                                                  exemplar_model, tmp_path):
    bpy = infinite_scene
    model = {"no_exemplar": tiny_model, "translator": stand_in_translator,
             "corrupt_exemplar": _corrupt_exemplar_block(exemplar_model, tmp_path / "corrupt.safetensors")}[kind]
    plane = _plane(bpy)
    before = _datablocks(bpy)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.texgan.generate_material(model=str(model), resolution=64, seed=0)
    message = str(info.value).strip()
    assert "\n" not in message and "Traceback" not in message
    assert {"no_exemplar": "carries no exemplar", "translator": "translator",
            "corrupt_exemplar": model.name}[kind] in message
    assert _datablocks(bpy) == before and plane.active_material is None


def test_saved_images_survive_save_reload_undo_and_append(built_zip, tmp_path):
    model = make_tiny_model(tmp_path / "other.safetensors", name="other", upsample="nearest",
                            exemplar=brick_exemplar(64, seed=1))
    r = run_blender_script("infinite_reload.py", tmp_path, built_zip, model, tmp_path / "scene.blend")
    assert r["result"] == ["FINISHED"]
    assert sorted(r["files"]) == ["TEXGAN_Infinite_other_gauss_albedo.png", "TEXGAN_Infinite_other_relief.png"]
    for image in r["images"].values():
        assert image["path"].startswith("//textures/") and not image["packed"] and image["colorspace"] == "Non-Color"
    assert r["reloaded"]["groups"] == 1 and r["reloaded"]["material_uses_group"]
    assert r["reloaded"]["pixels_equal"]  # the 16-bit data came back from the PNG files
    assert sorted(r["reloaded"]["curve_points"]) == [[257, 257, 2], [257, 257, 257]]  # the tables, as curves
    undo = r["undo"]  # the second object reuses the group: one material more, then none, then back
    assert undo["made"] == {**undo["before"], "materials": undo["before"]["materials"] + 1}
    assert undo["undone"] == undo["before"] and undo["redone"] == undo["made"]
    assert r["appended"] == {"material": True, "images_equal": True}


def test_image_to_material_makes_an_infinite_material_of_the_photo(infinite_scene):
    bpy = infinite_scene
    photo = smooth_photo(64, 80)
    image = bpy.data.images.new("infinite photo", 80, 64, alpha=True)
    rgba = np.ones((64, 80, 4), np.float32)
    rgba[..., :3] = photo
    image.pixels.foreach_set(rgba[::-1].ravel())
    plane = _plane(bpy)
    baked_images = {i.name for i in bpy.data.images}
    assert bpy.ops.texgan.image_to_material(image=image.name, seamless=False, maps=False) == {"FINISHED"}
    material = plane.active_material
    assert material["texgan"]["infinite"]
    group = _group_node(material).node_tree
    albedo = next(n.image for n in group.nodes if n.bl_idname == "ShaderNodeTexImage")
    assert tuple(albedo.size) == (80, 64)  # the photo itself is the exemplar
    assert {i.name for i in bpy.data.images} - baked_images == {n.image.name for n in group.nodes
                                                               if n.bl_idname == "ShaderNodeTexImage"}


def test_material_panel_offers_infinite_and_warns_for_structured_models(blender):
    from scripts import panel_picture

    settings = blender.context.scene.texgan
    settings.model = "stone_wall"  # its own default is joined patches
    try:
        for surface, model, warned in (("BAKED", "stone_wall", False), ("INFINITE", "stone_wall", True),
                                       ("INFINITE", "sand_rocks", False)):
            settings.surface, settings.model = surface, model
            panel = {p.title: p for p in panel_picture.sidebar_panels(ADDON)}["Material"]
            items = panel_picture.leaves(panel.layout)
            props = {i.label: i.value for i in items if i.kind == "prop"}
            assert props["Output"] == ("Infinite (render-time)" if surface == "INFINITE" else "Baked Maps")
            assert ("Coordinates" in props) == (surface == "INFINITE")
            text = " ".join(i.text for i in items if i.kind == "label")
            assert ("ghosts structured materials" in text) == warned, (surface, model, text)
    finally:
        settings.surface, settings.model = "BAKED", "stone_wall"


STRUCTURED = {"bark", "cobblestones", "facade_tiles", "stone_wall"}  # default: joined patches


def test_structured_models_keep_the_baked_default_and_get_the_hint(blender):
    """Item 6: every bundled model offers the Infinite output; Baked Maps is the default; the panel's
    hint says tiling and blending ghosts structured materials exactly for the models whose own
    default is coordinate synthesis (joined patches)."""
    from blender_texgan.core.infinite import structured_hint
    from blender_texgan.core.modelfile import read_manifest
    from blender_texgan.engine.library import bundled_models
    from scripts import panel_picture

    settings = blender.context.scene.texgan
    assert type(settings).bl_rna.properties["surface"].default == "BAKED"
    models = {name: path for name, path in bundled_models().items()
              if read_manifest(path).get("kind", "generator") == "generator" and "exemplar" in read_manifest(path)}
    assert STRUCTURED <= set(models) and len(models) >= 10
    try:
        for name, path in sorted(models.items()):
            manifest = read_manifest(path)
            structured = manifest["exemplar"].get("default_mode", "refined") in ("random", "refined")
            assert structured == (name in STRUCTURED), name
            settings.surface, settings.model = "INFINITE", name
            panel = {p.title: p for p in panel_picture.sidebar_panels(ADDON)}["Material"]
            text = " ".join(i.text for i in panel_picture.leaves(panel.layout) if i.kind == "label")
            assert ("ghosts structured materials" in text) == structured, (name, text)
            assert bool(structured_hint(manifest)) == structured
    finally:
        settings.surface, settings.model = "BAKED", "stone_wall"


def test_uv_coordinates_and_true_displacement(infinite_scene, exemplar_model):
    bpy = infinite_scene
    settings = bpy.context.scene.texgan
    settings.coordinates, settings.displacement = "UV", "BOTH"
    try:
        plane = _plane(bpy, size=3.0)
        bpy.ops.texgan.generate_material(model=str(exemplar_model), resolution=64, seed=0)
    finally:
        settings.coordinates, settings.displacement = "OBJECT", "BUMP"
    material = plane.active_material
    nodes = {n.bl_idname: n for n in material.node_tree.nodes}
    scale = _group_node(material).inputs["Vector"].links[0].from_node
    assert scale.bl_idname == "ShaderNodeVectorMath" and scale.inputs["Scale"].default_value == pytest.approx(3.0)
    assert scale.inputs[0].links[0].from_socket.name == "UV"  # UV square -> metres of the 3 m plane
    assert nodes["ShaderNodeNormalMap"].space == "TANGENT"
    assert nodes["ShaderNodeDisplacement"].outputs[0].links[0].to_socket.name == "Displacement"
    assert material.displacement_method == "BOTH"


@pytest.mark.slow
def test_eevee_renders_the_group_like_cycles_without_lines(built_zip, exemplar_model, tmp_path):
    """EEVEE (software OpenGL where there is no GPU) renders the group's Base Color as Cycles does,
    seen at 2 render pixels per exemplar pixel, with its Linear reads as built: EEVEE picks their
    mip levels from screen-space derivatives of the read positions, and a slot keeps its vertex (so
    its read position) wherever its weight counts, so no line runs along the triangle edges.
    Measured: 0.76 8-bit steps from Cycles, 1.2 times as much beside the edges as elsewhere (when
    the slots followed the triangles' order: 1.8 steps and 7.2 times, lines). Software OpenGL draws
    a dotted line along the screen's diagonal into every mipmapped read, a plain Image Texture
    node's too (the control), so the figures leave out a band along it. The same picture with
    another seed differs by ~45: a wrong arrangement, table or colour space cannot pass."""
    r = run_blender_script("infinite_eevee.py", tmp_path, built_zip, exemplar_model, 48)
    assert r["result"] == ["FINISHED"] and r["engine"].startswith("BLENDER_EEVEE")
    assert r["pink"] == 0.0 and min(r["mean_eevee"]) > 5 and r["std_eevee"] > 5  # compiled, not black or flat
    assert r["interpolation"] == "Linear"
    linear, closest = r["linear"], r["closest"]
    assert linear["mad_off_diagonal"] <= 1.5, r
    assert linear["edge_over_rest"] <= 2.0 and linear["p99_off_diagonal"] <= 10.0, r
    assert closest["mad_off_diagonal"] <= 2.5 and r["mad_closest"] <= 2.5, r  # no mip levels, no derivatives
    assert r["mad"] <= 8.0, r  # the diagonal band included
    assert r["mad_other_seed"] >= 4 * r["mad"] and r["mad_other_seed"] > 20.0, r
    assert np.abs(np.subtract(r["mean_eevee"], r["mean_cycles"])).max() <= 6.0, r
    assert abs(r["std_eevee"] - r["std_cycles"]) <= 0.15 * r["std_cycles"], r
    # the control (measured: 0.48 steps off the diagonal, 0.93 at the edges): the comparison itself is sound
    plain = r["plain"]
    assert plain["mad_off_diagonal"] <= 1.0 and plain["edge_over_rest"] <= 1.5, r
