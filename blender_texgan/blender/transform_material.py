"""Transform Material (3D Viewport > Sidebar > TexGAN > Transform Material): the active material's
maps through a material translator (e.g. clean -> rusty metal) with a strength. The maps are read
from the add-on's labelled Image Texture nodes (Generate's, Image to Material's, Variations'); the
result goes into new packed image datablocks that those nodes then show (the old images are left
as they are, for other users and for undo). The translation runs as an engine job
(engine.latent_jobs.transform_runner; synchronous in background mode).
"""
from __future__ import annotations

from dataclasses import replace

import bpy
import numpy as np

from ..core.maps import GENERATED_CHANNELS, PBR_MAPS
from ..core.modelfile import ModelFileError
from ..core.options import texture_file_name
from ..core.prepare import PreparedMaps, prepare_maps
from ..engine.latent_jobs import TransformJob, map_from_pixels, transform_runner
from ..engine.request import GenerationError
from ..engine.transform import check_strength
from . import sockets as S
from .images import image_from_png
from .morph_live import labelled_images
from .operators import JobOperator
from .panels import GenerateSubPanel, draw_job_progress, split_layout
from .photo import engine_and_device, is_linear

NEEDED = [name for name, _ in GENERATED_CHANNELS]  # albedo, height, roughness: the normal is derived


class MaterialInputError(ValueError):
    """A material whose maps cannot be read; str() is one sentence for the user."""


def read_image_map(image: bpy.types.Image, name: str, material_name: str) -> np.ndarray:
    try:
        width, height = image.size
        channels = image.channels
    except (RuntimeError, ReferenceError) as exc:
        raise MaterialInputError(f"Image '{image.name}' of material '{material_name}' cannot be read: {exc}") from None
    if width == 0 or height == 0 or channels == 0:
        raise MaterialInputError(f"Image '{image.name}' of material '{material_name}' has no pixels: "
                                 "its file could not be loaded.")
    flat = np.empty(width * height * channels, np.float32)
    image.pixels.foreach_get(flat)
    return map_from_pixels(flat, width, height, channels, name == "albedo", is_linear(image))


def read_material_maps(material: bpy.types.Material) -> dict[str, np.ndarray]:
    """The add-on's maps of a material (albedo, height, roughness); one-line errors otherwise."""
    images = labelled_images(material)
    missing = [name for name in NEEDED if name not in images]
    if missing:
        raise MaterialInputError(f"Material '{material.name}' has no TexGAN {', '.join(missing)} image: Transform "
                                 "Material works on materials made by Generate or Image to Material.")
    return {name: read_image_map(images[name], name, material.name) for name in NEEDED}


def is_directx(material: bpy.types.Material) -> bool:
    """Does the material's normal image hold DirectX normals (flipped back in its node tree)?"""
    for node in material.node_tree.nodes:
        if node.bl_idname == S.IMAGE and node.label == "Normal":
            color = S.find_socket(node.outputs, "Color")
            return any(link.to_node.bl_idname == S.SEPARATE_COLOR for link in color.links)
    return False


class TEXGAN_OT_transform_material(JobOperator, bpy.types.Operator):
    """Translate the active material's maps with a material translator (e.g. clean to rusty metal);
    the result goes into new images of the same material"""
    bl_idname = "texgan.transform_material"
    bl_label = "Transform Material"
    bl_options = {"REGISTER", "UNDO"}
    doing = "transforming the material"

    translator: bpy.props.StringProperty(name="Translator",
                                         description="A bundled material translator or a file (empty: the panel's)")
    strength: bpy.props.FloatProperty(name="Strength", default=1.0, min=0.0, max=1.0)
    engine: bpy.props.StringProperty(name="Engine", description="auto, torch or numpy (empty: preferences)")

    _material_name = ""
    _directx = False

    @classmethod
    def poll(cls, context):
        obj = context.active_object
        if obj is None or getattr(obj, "active_material", None) is None:
            cls.poll_message_set("Select an object with a material (one made by TexGAN)")
            return False
        return True

    def execute(self, context):
        material = context.active_object.active_material
        latent = context.scene.texgan.latent
        try:
            maps = read_material_maps(material)
            translator = self.translator or (latent.translator if latent.translator != "NONE" else "")
            if not translator:
                raise GenerationError("No material translator is installed: Transform Material needs one.")
            check_strength(self.strength)
            engine, device = engine_and_device(context, self.engine)
            self._material_name, self._directx = material.name, is_directx(material)
            options = replace(context.scene.texgan.material_options(), output="PACK",
                              normal_convention="DIRECTX" if self._directx else "OPENGL")
            request = TransformJob(translator, self.strength, engine, device, material.name)
            return self.start_job(context, request, run=transform_runner(maps),
                                  prepare=lambda result: prepare_maps(result, options))
        except (MaterialInputError, ModelFileError, GenerationError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    def finish(self, context, prepared: PreparedMaps, manifest: dict, request: TransformJob):
        material = bpy.data.materials.get(self._material_name)
        if material is None:
            self.report({"ERROR"}, f"Material '{self._material_name}' was removed while it was being transformed.")
            return {"CANCELLED"}
        nodes = {node.label.lower(): node for node in material.node_tree.nodes
                 if node.bl_idname == S.IMAGE and node.label.lower() in prepared.png}
        base = f"{material.name} {manifest['to']}"
        for spec in PBR_MAPS:
            if spec.name in nodes:
                nodes[spec.name].image = image_from_png(f"{base} {spec.name}", prepared.png[spec.name],
                                                        spec.colorspace, texture_file_name(base, spec.name, "png"))
        material["texgan"] = {**(material["texgan"].to_dict() if "texgan" in material else {}),
                              "transform": {"translator": request.translator, "strength": request.strength}}
        self.report({"INFO"}, f"Transformed material '{material.name}' to {manifest['to']} "
                              f"(strength {request.strength:g})")
        return {"FINISHED"}


class TEXGAN_PT_transform(GenerateSubPanel, bpy.types.Panel):
    """Generate > Transform Material: the active material, the translator, the strength."""
    bl_idname = "TEXGAN_PT_transform"
    bl_label = "Transform Material"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = split_layout(self.layout)
        latent = context.scene.texgan.latent
        obj = context.active_object
        material = getattr(obj, "active_material", None) if obj is not None else None
        layout.label(text=f"Material: {material.name}" if material is not None else "No active material",
                     icon="MATERIAL")
        layout.prop(latent, "translator")
        layout.prop(latent, "transform_strength")
        if draw_job_progress(layout):
            return
        op = layout.operator("texgan.transform_material", icon="SHADERFX")
        op.translator = latent.translator if latent.translator != "NONE" else ""
        op.strength = latent.transform_strength


classes = (TEXGAN_OT_transform_material, TEXGAN_PT_transform)
register, unregister = bpy.utils.register_classes_factory(classes)
