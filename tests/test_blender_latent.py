"""The latent tools in real Blender, from the built zip: Variations of This (an Image datablock ->
variants in a gallery -> a material wired like generated ones), the Morph slider (two ends mixed
into the same image datablocks; a keyframed factor animates through the frame-change handler) and
Transform Material (a bundled material translator on the active material). The VAE is a small
untrained one: the add-on's paths, not the model's quality, are under test here."""
from __future__ import annotations

import types
from pathlib import Path

import numpy as np
import pytest
from conftest import (
    EXPECTED_NODES,
    LayoutRecorder,
    addon,
    brick_exemplar,
    datablocks,
    image_datablock,
    image_pixels,
    link_set,
    material_images,
    new_plane,
    smooth_photo,
)

from blender_texgan.core.morph import morph
from blender_texgan.core.tiling import looks_periodic

BYTE = 0.5 / 255 + 1e-6  # 8-bit images hold the maps to within half a step


def make_tiny_vae(path: Path, seed: int = 0) -> Path:
    """A randomly initialised small texture VAE written as a model file (as trainer.export writes
    one of kind vae)."""
    import torch

    from blender_texgan.core.arch.generator import PeriodicGeneratorConfig
    from blender_texgan.core.arch.vae import PERIODIC_VAE_V1, VAEConfig
    from blender_texgan.core.latent import LatentLayout
    from blender_texgan.core.modelfile import write_model_file
    from blender_texgan.engine.nets.vae_encoder import build_vae
    from trainer.export import build_manifest

    torch.manual_seed(seed)
    cfg = PeriodicGeneratorConfig(latent_channels=4, channels=(16, 12, 8), upsample="bilinear")
    vae = build_vae(VAEConfig(cfg)).eval()
    with torch.no_grad():  # means that differ from place to place
        vae.encoder.head.weight.normal_(0.0, 0.3)
    manifest = build_manifest("tiny_vae", cfg, LatentLayout(4, 0, (), 4), options={"crop": 32, "batch": 2},
                              step=0, seconds=0.0, normal_strength=6.0, data_description="nothing (untrained)",
                              description="test VAE")
    manifest.update(kind="vae", architecture={"name": PERIODIC_VAE_V1, "config": VAEConfig(cfg).to_dict()})
    return write_model_file(path, {k: v.detach().numpy() for k, v in vae.state_dict().items()}, manifest)


@pytest.fixture(scope="module")
def tiny_vae(tmp_path_factory) -> Path:
    return make_tiny_vae(tmp_path_factory.mktemp("vae") / "tiny_vae.safetensors")


def _one_line_error(call, message: str) -> None:
    with pytest.raises(RuntimeError) as info:
        call()
    text = str(info.value).strip()
    assert message in text and "\n" not in text and "Traceback" not in text, text


# ---------------------------------------------------------------- Variations of This

def test_variations_of_this_fill_the_gallery_and_one_becomes_a_wired_material(blender, tiny_vae, tiny_model):
    bpy = blender
    reference = new_plane(bpy)
    assert bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=32, seed=0) == {"FINISHED"}
    generated = reference.active_material

    image = image_datablock(bpy, "Mossy stones.png", smooth_photo(96, 96, seed=5))
    bpy.context.scene.texgan.photo.image = image
    assert bpy.ops.texgan.texture_variations(model=str(tiny_vae), count=3, strength=0.8, size=64, seed=4,
                                             engine="numpy") == {"FINISHED"}
    gallery = addon("blender.latent").GALLERY
    assert len(gallery.maps) == len(gallery.icons) == 3  # (icon ids are 0 in background mode)
    albedos = [maps["albedo"] for maps in gallery.maps]
    assert all(a.shape == (64, 64, 3) and looks_periodic(a) for a in albedos)
    assert min(np.abs(a - b).mean() for i, a in enumerate(albedos) for b in albedos[i + 1:]) > 0.02

    plane = new_plane(bpy)
    assert bpy.ops.texgan.variant_material(index=1) == {"FINISHED"}
    material = plane.active_material
    assert material.name == "TexGAN Mossy_stones variation s5" and material["texgan"]["source"] == "variation"
    assert sorted(n.bl_idname for n in material.node_tree.nodes) == EXPECTED_NODES
    assert link_set(material.node_tree) == link_set(generated.node_tree)
    images = material_images(material)
    assert {k: v.colorspace_settings.name for k, v in images.items()} == {
        k: v.colorspace_settings.name for k, v in material_images(generated).items()}
    assert np.abs(image_pixels(images["albedo"]) - albedos[1]).max() <= BYTE

    layout = LayoutRecorder()  # the sub-panel draws the button and one cell per variant
    addon("blender.latent").draw_variations(layout, bpy.context)
    operators = [c[1][0] for c in layout.calls if c[0] == "operator"]
    assert operators == ["texgan.texture_variations"] + ["texgan.variant_material"] * 3
    bpy.context.scene.texgan.photo.image = None


def test_variations_errors_are_one_line(blender, tiny_vae, tiny_model, tmp_path):
    bpy = blender
    new_plane(bpy)
    image_datablock(bpy, "small", smooth_photo(16, 16))
    image_datablock(bpy, "fine", smooth_photo(64, 64))
    run = bpy.ops.texgan.texture_variations
    _one_line_error(lambda: run(image="small", model=str(tiny_vae)), "too small")
    _one_line_error(lambda: run(image="fine", model=str(tiny_model), size=64, engine="numpy"), "need a VAE model")
    _one_line_error(lambda: run(image="fine", model=str(tmp_path / "gone.safetensors"), size=64), "gone.safetensors")
    _one_line_error(lambda: bpy.ops.texgan.variant_material(index=99), "no longer in memory")

    library = addon("engine.library")  # no bundled VAE: moved aside for this check
    moved = [(path, path.with_name(path.name + ".off")) for path in library.bundled_vaes().values()]
    for path, aside in moved:
        path.rename(aside)
    library._bundled.cache_clear()
    try:
        _one_line_error(lambda: run(image="fine", size=64), "No texture VAE model is installed")
    finally:
        for path, aside in moved:
            aside.rename(path)
        library._bundled.cache_clear()


# ---------------------------------------------------------------- the morph slider

def test_the_morph_slider_mixes_the_two_seeds_in_place_and_animates(blender, tiny_model, tmp_path):
    bpy = blender
    scene = bpy.context.scene
    latent = scene.texgan.latent
    ends = {}
    for seed in (0, 3):  # the two ends, generated as Generate makes them
        new_plane(bpy)
        assert bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=64, seed=seed,
                                                engine="numpy") == {"FINISHED"}
        ends[seed] = image_pixels(material_images(bpy.context.active_object.active_material)["albedo"])

    plane = new_plane(bpy)
    latent.factor = 0.0
    assert bpy.ops.texgan.morph_material(model=str(tiny_model), resolution=64, seed=0, seed_b=3,
                                         engine="numpy") == {"FINISHED"}
    material = plane.active_material
    assert latent.material == material and material.name == "TexGAN tiny s0-s3 morph"
    assert sorted(n.bl_idname for n in material.node_tree.nodes) == EXPECTED_NODES
    images = material_images(material)
    pointers = {k: v.as_pointer() for k, v in images.items()}
    before = datablocks(bpy)
    assert np.abs(image_pixels(images["albedo"]) - ends[0]).max() <= 1.5 / 255

    latent.factor = 1.0  # the slider's update callback
    assert np.abs(image_pixels(images["albedo"]) - ends[3]).max() <= 1.5 / 255
    latent.factor = 0.5
    middle = image_pixels(images["albedo"])
    assert np.abs(middle - morph(ends[0], ends[3], 0.5)).max() <= 2.5 / 255
    assert min(np.abs(middle - ends[0]).mean(), np.abs(middle - ends[3]).mean()) > 0.01
    assert looks_periodic(middle) and np.ptp(image_pixels(images["height"])) > 0
    assert {k: v.as_pointer() for k, v in material_images(material).items()} == pointers
    assert datablocks(bpy) == before  # no new datablocks per move

    # A keyframed factor animates: the frame-change handler shows each frame's value.
    assert addon("blender.morph_live").on_frame_change in bpy.app.handlers.frame_change_post
    for frame, value in ((1, 0.0), (11, 1.0)):
        latent.factor = value
        scene.keyframe_insert(data_path="texgan.latent.factor", frame=frame)
    scene.frame_set(1)
    assert np.abs(image_pixels(images["albedo"]) - ends[0]).max() <= 1.5 / 255
    scene.frame_set(11)
    assert np.abs(image_pixels(images["albedo"]) - ends[3]).max() <= 1.5 / 255
    scene.frame_set(6)
    assert np.abs(image_pixels(images["albedo"]) - morph(ends[0], ends[3], latent.factor)).max() <= 2.5 / 255
    scene.animation_data_clear()
    scene.frame_set(1)

    # Saving packs what the images show (the pixels were changed in memory).
    assert images["albedo"].is_dirty
    bpy.ops.wm.save_as_mainfile(filepath=str(tmp_path / "morph.blend"), copy=True)
    assert not any(image.is_dirty for image in material_images(material).values())
    shown = image_pixels(images["albedo"])
    images["albedo"].reload()  # from the packed data
    assert np.abs(image_pixels(images["albedo"]) - shown).max() <= BYTE

    # Pressed again with the same seeds: the ends come from memory, nothing is generated.
    latent_morph = addon("engine.latent.morph")
    key = (str(tiny_model), 0, 3, 64, "auto")
    cached = latent_morph.ENDS.get(key)
    assert cached is not None
    assert bpy.ops.texgan.morph_material(model=str(tiny_model), resolution=64, seed=0, seed_b=3,
                                         engine="numpy") == {"FINISHED"}
    assert latent_morph.ENDS.get(key) is cached and latent.material != material


def test_the_morph_panel_draws_and_morph_errors_are_one_line(blender, tiny_model):
    bpy = blender
    new_plane(bpy)
    layout = LayoutRecorder()
    bpy.types.TEXGAN_PT_morph.draw(types.SimpleNamespace(layout=layout), bpy.context)
    assert "texgan.morph_material" in [c[1][0] for c in layout.calls if c[0] == "operator"]
    assert {"seed_b", "material", "factor"} <= {c[1][1] for c in layout.calls if c[0] == "prop"}
    _one_line_error(lambda: bpy.ops.texgan.morph_material(model="no_such_model", resolution=64), "Unknown model")


# ---------------------------------------------------------------- Transform Material

def test_transform_material_with_a_bundled_translator(blender, tiny_model):
    bpy = blender
    items = addon("engine.material_translation").material_translators()
    assert ("clean_to_rusty_metal", "Clean metal -> Rusty metal") in [item[:2] for item in items]
    plane = new_plane(bpy)
    assert bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=64, seed=2) == {"FINISHED"}
    material = plane.active_material
    original = material_images(material)
    albedo = image_pixels(original["albedo"])

    assert bpy.ops.texgan.transform_material(translator="clean_to_rusty_metal", strength=0.0,
                                             engine="numpy") == {"FINISHED"}
    images = material_images(material)
    assert all(images[k] != original[k] for k in images)  # new datablocks of the same material
    assert np.abs(image_pixels(images["albedo"]) - albedo).max() <= BYTE
    assert {k: v.colorspace_settings.name for k, v in images.items()} == {
        k: v.colorspace_settings.name for k, v in original.items()}

    assert bpy.ops.texgan.transform_material(translator="clean_to_rusty_metal", strength=1.0,
                                             engine="numpy") == {"FINISHED"}
    rusty = image_pixels(material_images(material)["albedo"])
    assert np.abs(rusty - albedo).mean() > 0.02 and looks_periodic(rusty)
    assert material["texgan"]["transform"]["translator"] == "clean_to_rusty_metal"
    assert plane.active_material == material and sorted(n.bl_idname for n in material.node_tree.nodes) == EXPECTED_NODES


def test_transform_errors_are_one_line(blender, tiny_model):
    bpy = blender
    plane = new_plane(bpy)
    plain = bpy.data.materials.new("Imported wood")
    plain.use_nodes = True
    plane.data.materials.append(plain)
    transform = bpy.ops.texgan.transform_material
    _one_line_error(lambda: transform(translator="clean_to_rusty_metal"), "has no image texture on Base Color")

    assert bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=36, seed=1) == {"FINISHED"}
    _one_line_error(lambda: transform(translator="clean_to_rusty_metal", engine="numpy"), "multiples of 8 px")
    _one_line_error(lambda: transform(translator="no_such_translator", engine="numpy"), "Unknown material translator")

    layout = LayoutRecorder()
    bpy.types.TEXGAN_PT_transform.draw(types.SimpleNamespace(layout=layout), bpy.context)
    assert [c[1][0] for c in layout.calls if c[0] == "operator"] == ["texgan.transform_material"]


def _imported_material(bpy, plane, wiring: str):
    """A PBR material wired by hand, as importers make them (no TexGAN labels): brick images on Base
    Color and Roughness, and height through a Bump node (wiring "bump") or, with wiring "packed",
    through a Displacement node, with a Hue/Saturation node before Base Color and the roughness in
    the green channel of a half-size image read through a Separate Color node."""
    bricks = brick_exemplar(64)
    material = bpy.data.materials.new(f"Imported bricks {wiring}")
    material.use_nodes = True
    plane.data.materials.clear()
    plane.data.materials.append(material)
    tree = material.node_tree
    nodes, links = tree.nodes, tree.links
    bsdf = next(n for n in nodes if n.bl_idname == "ShaderNodeBsdfPrincipled")
    output = next(n for n in nodes if n.bl_idname == "ShaderNodeOutputMaterial")

    def image_node(name, pixels, colorspace):
        h, w = pixels.shape[:2]
        node = nodes.new("ShaderNodeTexImage")
        node.image = bpy.data.images.new(f"{wiring} {name}", w, h, alpha=True)
        node.image.colorspace_settings.name = colorspace  # first: it clears a generated image's pixels
        rgba = np.ones((h, w, 4), np.float32)
        rgba[..., :3] = pixels
        node.image.pixels.foreach_set(rgba[::-1].ravel())
        return node

    albedo = image_node("bricks_diff", bricks[..., :3], "sRGB")
    height = image_node("bricks_disp", np.repeat(bricks[..., 3:4], 3, axis=-1), "Non-Color")
    if wiring == "bump":
        links.new(albedo.outputs["Color"], bsdf.inputs["Base Color"])
        rough = image_node("bricks_rough", np.repeat(bricks[..., 4:5], 3, axis=-1), "Non-Color")
        links.new(rough.outputs["Color"], bsdf.inputs["Roughness"])
        bump = nodes.new("ShaderNodeBump")
        links.new(height.outputs["Color"], bump.inputs["Height"])
        links.new(bump.outputs["Normal"], bsdf.inputs["Normal"])
    else:
        hue = nodes.new("ShaderNodeHueSaturation")
        links.new(albedo.outputs["Color"], hue.inputs["Color"])
        links.new(hue.outputs["Color"], bsdf.inputs["Base Color"])
        orm = np.stack([np.full((32, 32), 0.8), bricks[::2, ::2, 4], np.full((32, 32), 0.1)], axis=-1)
        rough = image_node("bricks_orm", orm, "Non-Color")
        separate = nodes.new("ShaderNodeSeparateColor")
        links.new(rough.outputs["Color"], separate.inputs["Color"])
        links.new(separate.outputs["Green"], bsdf.inputs["Roughness"])
        displacement = nodes.new("ShaderNodeDisplacement")
        links.new(height.outputs["Color"], displacement.inputs["Height"])
        links.new(displacement.outputs["Displacement"], output.inputs["Displacement"])
    return material, {"albedo": albedo, "roughness": rough, "height": height}


@pytest.mark.parametrize("wiring", ["bump", "packed"])
def test_transform_an_imported_material_without_labels(blender, wiring):
    bpy = blender
    plane = new_plane(bpy)
    material, nodes = _imported_material(bpy, plane, wiring)
    before = {name: (node.image, image_pixels(node.image)) for name, node in nodes.items()}
    assert all(np.ptp(pixels) > 0.1 for _, pixels in before.values())
    count = len(material.node_tree.nodes)

    assert bpy.ops.texgan.transform_material(translator="clean_to_rusty_metal", strength=0.0,
                                             engine="numpy") == {"FINISHED"}
    assert all(node.image != before[name][0] for name, node in nodes.items())  # new datablocks, same nodes
    assert np.abs(image_pixels(nodes["albedo"].image) - before["albedo"][1]).max() <= BYTE
    assert np.abs(image_pixels(nodes["height"].image) - before["height"][1]).max() <= BYTE
    rough, old_rough = image_pixels(nodes["roughness"].image), before["roughness"][1]
    if wiring == "bump":
        assert np.abs(rough - old_rough).max() <= BYTE
    else:  # the green channel, resampled to the albedo's size and back; red and blue kept
        assert np.corrcoef(rough[..., 1].ravel(), old_rough[..., 1].ravel())[0, 1] > 0.8
        assert np.abs(rough[..., 0::2] - old_rough[..., 0::2]).max() <= BYTE

    assert bpy.ops.texgan.transform_material(translator="clean_to_rusty_metal", strength=1.0,
                                             engine="numpy") == {"FINISHED"}
    rusty = image_pixels(nodes["albedo"].image)
    assert np.abs(rusty - before["albedo"][1]).mean() > 0.02 and looks_periodic(rusty)
    assert {name: node.image.colorspace_settings.name for name, node in nodes.items()} == {
        "albedo": "sRGB", "roughness": "Non-Color", "height": "Non-Color"}
    for name, (image, pixels) in before.items():  # the imported images are left as they were
        assert np.array_equal(image_pixels(image), pixels), name
    assert len(material.node_tree.nodes) == count and plane.active_material == material
    if wiring == "packed":  # the new roughness went into the green channel at the image's size
        assert image_pixels(nodes["roughness"].image).shape == (32, 32, 3)


def test_transform_a_material_with_only_a_colour_is_one_line(blender):
    bpy = blender
    plane = new_plane(bpy)
    plain = bpy.data.materials.new("Imported paint")
    plain.use_nodes = True
    plane.data.materials.clear()
    plane.data.materials.append(plain)
    _one_line_error(lambda: bpy.ops.texgan.transform_material(translator="clean_to_rusty_metal", engine="numpy"),
                    "has no image texture on Base Color")
