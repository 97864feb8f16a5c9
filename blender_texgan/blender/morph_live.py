"""The morph slider's live part: scene.texgan.latent.factor -> the morph material's images,
written in place (the same datablocks, no new ones per move) from the two ends kept in memory
(engine.latent.morph.ENDS). The slider's update callback and a frame-change handler (so a keyframed
factor animates) both call apply_morph; a save handler packs the changed pixels into the .blend.

Kept apart from blender.latent so that blender.properties can name apply_morph as an update
callback without importing the operators.
"""
from __future__ import annotations

import bpy
from bpy.app.handlers import persistent

from ..core.maps import PBR_MAPS
from ..engine.latent.morph import ENDS, MorphEnds
from ..engine.photo.pipeline import blender_pixels

MAP_LABELS = {spec.name.capitalize(): spec.name for spec in PBR_MAPS}  # node label -> map (blender.materials)
_applied: dict[str, float] = {}  # material name -> the factor its images show


def labelled_nodes(material: bpy.types.Material) -> dict[str, bpy.types.Node]:
    """The add-on's Image Texture nodes of a material (those holding an image), by map name."""
    if material is None or not material.use_nodes or material.node_tree is None:
        return {}
    return {MAP_LABELS[node.label]: node for node in material.node_tree.nodes
            if node.bl_idname == "ShaderNodeTexImage" and node.label in MAP_LABELS and node.image is not None}


def labelled_images(material: bpy.types.Material) -> dict[str, bpy.types.Image]:
    """The add-on's Image Texture nodes' images, by map name (albedo, normal, ...)."""
    return {name: node.image for name, node in labelled_nodes(material).items()}


def morph_key(material: bpy.types.Material) -> tuple | None:
    """The ENDS key recorded on a morph material (None for any other material)."""
    info = material.get("texgan") if material is not None else None
    morph = info.get("morph") if info is not None else None
    if morph is None:
        return None
    return (morph["model"], int(morph["seed"]), int(morph["seed_b"]), int(morph["resolution"]), morph["mode"])


def morph_ends_of(material: bpy.types.Material) -> MorphEnds | None:
    key = morph_key(material)
    return ENDS.get(key) if key is not None else None


def write_map(image: bpy.types.Image, array, colorspace: str) -> None:
    """Replace an image's pixels with a map of its size (colour space set first, so the values
    are stored as they are)."""
    image.colorspace_settings.name = colorspace
    image.pixels.foreach_set(blender_pixels(array))
    image.update()


def apply_morph(scene: bpy.types.Scene, force: bool = True) -> bool:
    """Show the scene's morph factor in its morph material's images; False when there is nothing
    to do (no morph material, its ends not in memory, or, unless forced, already shown)."""
    latent = scene.texgan.latent
    material = latent.material
    ends = morph_ends_of(material)
    if ends is None:
        return False
    factor = float(latent.factor)
    if not force and _applied.get(material.name) == factor:
        return False
    maps = ends.mix(factor)
    if material["texgan"]["morph"].get("directx"):
        maps["normal"] = maps["normal"].copy()
        maps["normal"][..., 1] = 1.0 - maps["normal"][..., 1]
    images = labelled_images(material)
    for spec in PBR_MAPS:
        image = images.get(spec.name)
        if image is not None and tuple(image.size) == maps[spec.name].shape[1::-1]:
            write_map(image, maps[spec.name], spec.colorspace)
    _applied[material.name] = factor
    return True


def factor_changed(self, context) -> None:
    """The slider's update callback."""
    apply_morph(context.scene)


@persistent
def on_frame_change(scene, depsgraph=None) -> None:
    """A keyframed factor: show this frame's value (nothing to do when it did not change)."""
    if getattr(scene, "texgan", None) is not None:
        apply_morph(scene, force=False)


@persistent
def on_save(*_args) -> None:
    """Morphed pixels live in memory: pack them, so the .blend keeps what the material shows."""
    for image in {image for material in bpy.data.materials if morph_key(material) is not None
                  for image in labelled_images(material).values()}:
        if image.is_dirty:
            image.pack()


HANDLERS = ((bpy.app.handlers.frame_change_post, on_frame_change), (bpy.app.handlers.save_pre, on_save))


def register():
    for handlers, handler in HANDLERS:
        if handler not in handlers:
            handlers.append(handler)


def unregister():
    for handlers, handler in HANDLERS:
        if handler in handlers:
            handlers.remove(handler)
    _applied.clear()
    ENDS.clear()
