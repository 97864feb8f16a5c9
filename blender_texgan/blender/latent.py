"""Latent tools in the sidebars: Variations of This (an image -> variants that keep its character,
shown as previews; clicking one makes its material) under each Image to Material panel, and the
Morph slider under Generate (two seeds generated once; every move, and every frame of a
keyframed factor, only mixes them into the morph material's images: blender.morph_live).

The work is engine.latent.variations / engine.generate, run as engine jobs (progress, Esc cancels;
synchronous in background mode); engine.latent.variations and engine.latent.morph hold the job functions and the ends cache.
"""
from __future__ import annotations

from dataclasses import replace

import bpy
import bpy.utils.previews

from ..core.maps import MapSet
from ..core.modelfile import ModelFileError
from ..core.prepare import prepare_maps
from ..engine.latent.morph import ENDS, MorphEnds, MorphEndsRequest, morph_ends
from ..engine.latent.variations import MAX_VARIANTS, VariationsRequest, check_request, preview_pixels, variations_runner
from ..engine.library import default_vae_name
from ..engine.photo.save_as_model import safe_model_name
from ..engine.request import GenerationError, check_seed
from . import morph_live
from .operators import JobOperator, create_material, generation_request, material_object_poll
from .panels import GenerateSubPanel, SidebarPanel, draw_job_progress, photo_sub_panels, split_layout
from .photo import PhotoInputError, engine_and_device, picked_image, read_photo

PREVIEW_SIZE = 128


# ---------------------------------------------------------------- Variations of This

class VariantGallery:
    """The variants last made (their maps, kept in memory until the next run) and their icons."""

    def __init__(self):
        self.previews = None          # bpy.utils.previews collection, while registered
        self.maps: list[MapSet] = []
        self.icons: list[int] = []
        self.manifest: dict = {}
        self.seed = 0

    def show(self, variants: list[MapSet], manifest: dict, seed: int) -> None:
        self.clear()
        self.maps, self.manifest, self.seed = list(variants), manifest, seed
        for i, maps in enumerate(self.maps):
            preview = self.previews.new(f"variant_{i}")
            preview.image_size = (PREVIEW_SIZE, PREVIEW_SIZE)
            preview.image_pixels_float.foreach_set(preview_pixels(maps["albedo"], PREVIEW_SIZE))
            self.icons.append(preview.icon_id)

    def clear(self) -> None:
        if self.previews is not None:
            self.previews.clear()
        self.maps, self.icons = [], []


GALLERY = VariantGallery()


def vae_model(latent, model: str = "") -> str:
    """The VAE to encode with: the operator's, else the panel's file, else the bundled VAE."""
    model = model or (bpy.path.abspath(latent.vae_path) if latent.vae_path else default_vae_name())
    if not model:
        raise GenerationError("No texture VAE model is installed: Variations of This needs one "
                              "(choose a VAE model file in the panel).")
    return model


class TEXGAN_OT_texture_variations(JobOperator, bpy.types.Operator):
    """Make variations of an image that keep its character (a texture VAE reads its layout); click
    one in the gallery to make its material"""
    bl_idname = "texgan.texture_variations"
    bl_label = "Variations of This"
    bl_options = {"REGISTER"}
    doing = "making variations of the image"

    image: bpy.props.StringProperty(name="Image", description="Name of an Image datablock (empty: the picked one)")
    model: bpy.props.StringProperty(name="VAE Model", description="A VAE model's name or file (empty: the panel's)")
    count: bpy.props.IntProperty(name="Count", default=4, min=1, max=MAX_VARIANTS)
    strength: bpy.props.FloatProperty(name="Strength", default=0.5, min=0.0, max=1.0)
    size: bpy.props.IntProperty(name="Size", default=512, min=32, max=8192)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    maps: bpy.props.BoolProperty(name="Separate Maps", default=True)
    translator: bpy.props.StringProperty(name="Translator", description="Photo translator (empty: the bundled one)")
    engine: bpy.props.StringProperty(name="Engine", description="auto, torch or numpy (empty: preferences)")

    def execute(self, context):
        try:
            image = picked_image(context, self.image)
            photo = read_photo(image)
            engine, device = engine_and_device(context, self.engine)
            request = VariationsRequest(vae_model(context.scene.texgan.latent, self.model), self.count,
                                        self.strength, self.size, self.seed, self.maps, self.translator, engine,
                                        device, safe_model_name(image.name))
            check_request(request)
            return self.start_job(context, request, run=variations_runner(photo))
        except (PhotoInputError, ModelFileError, GenerationError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    def finish(self, context, variants, manifest: dict, request: VariationsRequest):
        GALLERY.show(variants, manifest, request.seed)
        self.report({"INFO"}, f"{len(variants)} variations of '{request.name}': click one to make its material")
        return {"FINISHED"}


class TEXGAN_OT_variant_material(bpy.types.Operator):
    """Make this variation's material and assign it to the active object"""
    bl_idname = "texgan.variant_material"
    bl_label = "Use Variation"
    bl_options = {"REGISTER", "UNDO"}

    index: bpy.props.IntProperty(name="Variation", min=0)

    @classmethod
    def poll(cls, context):
        return material_object_poll(cls, context)

    def execute(self, context):
        if self.index >= len(GALLERY.maps):
            self.report({"ERROR"}, "That variation is no longer in memory: make the variations again.")
            return {"CANCELLED"}
        options = context.scene.texgan.material_options()
        prepared = prepare_maps(GALLERY.maps[self.index], options)
        return create_material(self, context, prepared, GALLERY.manifest, GALLERY.seed + self.index, options,
                               context.active_object.name)


# ---------------------------------------------------------------- the morph slider

class TEXGAN_OT_morph_material(JobOperator, bpy.types.Operator):
    """Make a material between two seeds of the model (Seed and Seed B): the Morph slider mixes
    them live and can be keyframed; every frame tiles"""
    bl_idname = "texgan.morph_material"
    bl_label = "Morph Material"
    bl_options = {"REGISTER", "UNDO"}
    doing = "generating the morph's two ends"

    model: bpy.props.StringProperty(name="Model", description="Bundled model name or path to a .safetensors file")
    resolution: bpy.props.IntProperty(name="Resolution", default=1024, min=32, max=8192)
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    seed_b: bpy.props.IntProperty(name="Seed B", default=1, min=0)
    mode: bpy.props.StringProperty(name="Detail", default="auto")
    engine: bpy.props.StringProperty(name="Engine", description="auto, torch, numpy or external (empty: preferences)")

    _options = None
    _object_name = ""

    @classmethod
    def poll(cls, context):
        return material_object_poll(cls, context)

    def request(self, context) -> MorphEndsRequest:
        generation = generation_request(self, context, self.model or context.scene.texgan.model_argument())
        check_seed(self.seed_b)
        return MorphEndsRequest(generation, self.seed_b)

    def execute(self, context):
        self._object_name = context.active_object.name
        try:
            request = self.request(context)
            self._options = replace(context.scene.texgan.material_options(), output="PACK")  # pixels change
            ends = ENDS.get(request.key)
            if ends is not None:  # generated before: only mix
                return self.finish(context, ends, ends.manifest, request)
            return self.start_job(context, request, run=morph_ends)
        except (ModelFileError, GenerationError, LookupError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    def finish(self, context, ends: MorphEnds, manifest: dict, request: MorphEndsRequest):
        ENDS.put(request.key, ends)
        latent = context.scene.texgan.latent
        before = {m.name for m in bpy.data.materials}
        prepared = prepare_maps(ends.mix(latent.factor), self._options)
        result = create_material(self, context, prepared, manifest, request.generation.seed, self._options,
                                 self._object_name)
        made = [m for m in bpy.data.materials if m.name not in before]
        if result != {"FINISHED"} or not made:
            return result
        name_morph_material(made[0], request, manifest["name"], self._options.normal_convention == "DIRECTX")
        latent.material = made[0]
        self.report({"INFO"}, f"Morph material '{made[0].name}': the Morph slider mixes its two seeds")
        return result


def name_morph_material(material, request: MorphEndsRequest, model_name: str, directx: bool) -> None:
    """Name the material and its images after both seeds; record what the slider needs."""
    g = request.generation
    base = f"TexGAN {model_name} s{g.seed}-s{request.seed_b} morph"
    material.name = base
    for name, image in morph_live.labelled_images(material).items():
        image.name = f"{base} {name}"
    material["texgan"]["morph"] = {"model": g.model, "seed": g.seed, "seed_b": request.seed_b,
                                   "resolution": g.resolution, "mode": g.mode, "directx": directx}


# ---------------------------------------------------------------- panels

def draw_variations(layout, context) -> None:
    settings = context.scene.texgan
    photo, latent = settings.photo, settings.latent
    col = split_layout(layout.column())
    col.prop(latent, "vae_path")
    if not latent.vae_path and not default_vae_name():
        col.label(text="No VAE model is bundled: choose a VAE model file", icon="INFO")
    col.prop(latent, "count")
    col.prop(latent, "strength")
    col.prop(photo, "size")
    if draw_job_progress(col):
        return
    op = col.operator("texgan.texture_variations", icon="IMGDISPLAY")
    op.image = photo.image.name if photo.image is not None else ""
    op.count, op.strength, op.size, op.seed, op.maps = latent.count, latent.strength, photo.size, photo.seed, photo.maps
    op.translator = bpy.path.abspath(photo.translator_path) if photo.translator_path else ""
    grid = layout.grid_flow(columns=3, even_columns=True, even_rows=True, align=True)
    for i, icon_id in enumerate(GALLERY.icons):
        cell = grid.column(align=True)
        cell.template_icon(icon_value=icon_id, scale=4.0)
        cell.operator("texgan.variant_material", text=f"Use {i + 1}").index = i


class _VariationsPanel(SidebarPanel):
    bl_label = "Variations of This"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        draw_variations(self.layout, context)


class TEXGAN_PT_morph(GenerateSubPanel, bpy.types.Panel):
    """Generate > Morph: Seed B, the button that makes the morph material, and its slider."""
    bl_idname = "TEXGAN_PT_morph"
    bl_label = "Morph"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = split_layout(self.layout)
        settings = context.scene.texgan
        latent = settings.latent
        layout.prop(latent, "seed_b")
        if not draw_job_progress(layout):
            op = layout.operator("texgan.morph_material", icon="MOD_WAVE")
            op.model, op.resolution, op.seed = settings.model_argument(), settings.resolution, settings.seed
            op.seed_b, op.mode = latent.seed_b, settings.mode
        layout.prop(latent, "material")
        row = layout.row()
        row.use_property_decorate = True  # the keyframe button: an animated morph
        row.enabled = latent.material is not None
        row.prop(latent, "factor", slider=True)
        if latent.material is not None and morph_live.morph_ends_of(latent.material) is None:
            layout.label(text="Its two ends are not in memory: press Morph Material", icon="INFO")


classes = (TEXGAN_OT_texture_variations, TEXGAN_OT_variant_material, TEXGAN_OT_morph_material,
           *photo_sub_panels(_VariationsPanel, "_variations"), TEXGAN_PT_morph)


def register():
    GALLERY.previews = bpy.utils.previews.new()
    for cls in classes:
        bpy.utils.register_class(cls)
    morph_live.register()


def unregister():
    morph_live.unregister()
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
    GALLERY.clear()
    if GALLERY.previews is not None:
        bpy.utils.previews.remove(GALLERY.previews)
        GALLERY.previews = None
