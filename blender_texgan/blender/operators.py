"""Operators: texgan.generate_material."""
from __future__ import annotations

import bpy

from ..core.maps import MAP_BY_NAME, PBR_MAPS
from ..core.modelfile import ModelFileError
from ..engine.generate import GenerationError, GenerationRequest, default_model_name, generate
from .images import image_from_array
from .materials import build_pbr_tree

MATERIAL_TYPES = {"MESH", "CURVE", "SURFACE", "META", "FONT"}


def build_material(maps: dict, manifest: dict, seed: int) -> bpy.types.Material:
    """Image datablocks + a material wired to them; on any failure nothing is left behind."""
    base = f"TexGAN {manifest['name']} s{seed}"
    images, material = {}, None
    try:
        for spec in PBR_MAPS:
            images[spec.name] = image_from_array(f"{base} {spec.name}", maps[spec.name], spec.colorspace,
                                                 float_buffer=spec.name == "height")
        material = bpy.data.materials.new(base)
        material.use_nodes = True
        build_pbr_tree(material.node_tree, images)
    except Exception:
        if material is not None:
            bpy.data.materials.remove(material)
        for image in images.values():
            bpy.data.images.remove(image)
        raise
    material["texgan"] = {"model": manifest["name"], "seed": seed}
    return material


def assign_material(obj: bpy.types.Object, material: bpy.types.Material) -> None:
    """Put the material in the active slot, or in a new slot when the object has none."""
    if len(obj.material_slots) == 0:
        obj.data.materials.append(material)
    else:
        obj.material_slots[obj.active_material_index].material = material


class TEXGAN_OT_generate_material(bpy.types.Operator):
    """Generate a seamless PBR material with a TexGAN model and assign it to the active object"""
    bl_idname = "texgan.generate_material"
    bl_label = "Generate Material"
    bl_options = {"REGISTER", "UNDO"}

    model: bpy.props.StringProperty(name="Model", description="Bundled model name or path to a .safetensors file")
    resolution: bpy.props.IntProperty(name="Resolution", default=1024, min=32, max=8192)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if obj is None or obj.type not in MATERIAL_TYPES:
            cls.poll_message_set("Select an object that can hold materials (a mesh, for example)")
            return False
        return True

    def execute(self, context):
        request = GenerationRequest(self.model or default_model_name(), self.resolution, self.seed)
        try:
            maps, manifest = generate(request)
            material = build_material(maps, manifest, request.seed)
        except (ModelFileError, GenerationError, LookupError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        assign_material(context.active_object, material)
        self.report({"INFO"}, f"Created material '{material.name}'")
        return {"FINISHED"}


classes = (TEXGAN_OT_generate_material,)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
