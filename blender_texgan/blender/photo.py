"""Image to Material: a photo (an Image datablock, or a file opened into one) -> a tileable PBR
material on the active object (texgan.image_to_material), or a model in the user's library
(texgan.save_photo_model); the same panel in the 3D Viewport, Shader Editor and Image Editor
sidebars.

Only the pixels are read here, on the main thread; the work is engine.photo.pipeline / engine.photo.save_as_model,
run as an engine job like Generate (progress, Esc cancels; synchronous in background mode).
"""
from __future__ import annotations

import os

import bpy
import numpy as np

from ..core.modelfile import ModelFileError
from ..core.photo.seamless import MIN_SIDE
from ..core.prepare import PreparedMaps, prepare_maps
from ..engine.image_files import DEFAULT_MAX_PIXELS, truncation
from ..engine.library import DEFAULT_TRANSLATOR, bundled_translators
from ..engine.photo.pipeline import PhotoRequest, check_request, photo_from_pixels, photo_runner
from ..engine.photo.save_as_model import PhotoModelRequest, photo_model_runner, safe_model_name
from ..engine.request import GenerationError
from .operators import JobOperator, create_material, material_object_poll
from .panels import (
    SidebarPanel,
    draw_job_progress,
    draw_material_options,
    draw_output_options,
    photo_sub_panels,
    split_layout,
)
from .preferences import preferences, user_models_dir
from .properties import STRAIGHTEN_DESCRIPTION, USER_PREFIX


class PhotoInputError(ValueError):
    """An image that cannot be used; str() is one sentence for the user."""


# ---------------------------------------------------------------- reading the image

def picked_image(context, name: str) -> bpy.types.Image:
    """The Image datablock `name`, or (empty name) the one picked in the panel."""
    if name:
        image = bpy.data.images.get(name)
        if image is None:
            raise PhotoInputError(f"There is no image named '{name}' in this file.")
        return image
    image = context.scene.texgan.photo.image
    if image is None:
        raise PhotoInputError("Pick an image first: choose one in the Image to Material panel, or Open a file.")
    return image


def is_linear(image: bpy.types.Image) -> bool:
    """Do the image's pixels hold linear values? Float buffers are scene linear (unless they are
    data: Non-Color); byte buffers hold their colour space's values, linear for the Linear ones."""
    settings = image.colorspace_settings
    if settings.is_data:
        return False
    return bool(image.is_float) or "linear" in settings.name.lower()


def read_photo(image: bpy.types.Image) -> np.ndarray:
    """The image's pixels as an (H, W, 3) sRGB float32 photo in [0, 1], rows top to bottom; a
    PhotoInputError when it has none (its file failed to load), or is too small or too large."""
    try:
        width, height = image.size  # loads the file if it is not loaded yet
        channels = image.channels
    except (RuntimeError, ReferenceError) as exc:
        raise PhotoInputError(f"Image '{image.name}' cannot be read: {exc}") from None
    if width == 0 or height == 0 or channels == 0:
        where = f" ('{bpy.path.abspath(image.filepath)}')" if image.source == "FILE" and image.filepath else ""
        raise PhotoInputError(f"Image '{image.name}' has no pixels: its file could not be loaded{where}.")
    if min(width, height) < MIN_SIDE:
        raise PhotoInputError(f"Image '{image.name}' is {width}x{height} px: too small (at least {MIN_SIDE} px a side).")
    if width * height > DEFAULT_MAX_PIXELS:
        raise PhotoInputError(f"Image '{image.name}' is {width}x{height} px: too large (at most "
                              f"{DEFAULT_MAX_PIXELS // 1_000_000} megapixels); scale it down first.")
    check_complete(image)
    flat = np.empty(width * height * channels, np.float32)
    image.pixels.foreach_get(flat)
    return photo_from_pixels(flat, width, height, channels, is_linear(image))


def check_complete(image: bpy.types.Image) -> None:
    """A PhotoInputError when the image's file (or packed data) is cut short or corrupt: Blender
    shows such a JPEG with grey where its data ended, and the terminal refuses the same file."""
    if image.packed_file is not None:
        problem, where = truncation(bytes(image.packed_file.data)), " (packed)"
    elif image.source == "FILE" and image.filepath and os.path.isfile(bpy.path.abspath(image.filepath)):
        where = f" ('{bpy.path.abspath(image.filepath)}')"
        problem = truncation(bpy.path.abspath(image.filepath))
    else:
        return
    if problem is not None:
        raise PhotoInputError(f"Image '{image.name}' cannot be used: its file is {problem}{where}.")


def engine_and_device(context, engine: str) -> tuple[str, str]:
    """The preferences' engine and device for photo work, which runs in Blender's own Python (an
    External engine falls back to Automatic here)."""
    prefs = preferences(context)
    engine = engine or (prefs.engine if prefs else "auto")
    engine = "auto" if engine == "external" else engine
    device = prefs.device if prefs and engine != "numpy" else "auto"
    return engine, device


# ---------------------------------------------------------------- operators

_IMAGE_DESCRIPTION = "Name of an Image datablock (empty: the image picked in the panel)"
_TRANSLATOR_DESCRIPTION = "Translator: a bundled name or a .safetensors file (empty: the bundled default)"
_ENGINE_DESCRIPTION = "auto, torch or numpy (empty: preferences)"


class TEXGAN_OT_image_to_material(JobOperator, bpy.types.Operator):
    """Make a tileable PBR material from an image (made seamless, separated into maps) and assign
    it to the active object"""
    bl_idname = "texgan.image_to_material"
    bl_label = "Image to Material"
    bl_options = {"REGISTER", "UNDO"}
    doing = "making a material from the image"

    image: bpy.props.StringProperty(name="Image", description=_IMAGE_DESCRIPTION)
    seamless: bpy.props.BoolProperty(name="Make Seamless", default=True)
    maps: bpy.props.BoolProperty(name="Separate Maps", default=True)
    size: bpy.props.IntProperty(name="Size", default=1024, min=32, max=8192)
    upscale: bpy.props.IntProperty(name="Upscale", default=1, min=1, max=4, description="1, 2 or 4")
    seed: bpy.props.IntProperty(name="Seed", default=0, min=0)
    straighten: bpy.props.BoolProperty(name="Straighten Perspective", default=True, description=STRAIGHTEN_DESCRIPTION)
    translator: bpy.props.StringProperty(name="Translator", description=_TRANSLATOR_DESCRIPTION)
    engine: bpy.props.StringProperty(name="Engine", description=_ENGINE_DESCRIPTION)

    _options = None
    _object_name = ""

    @classmethod
    def poll(cls, context):
        return material_object_poll(cls, context)

    def execute(self, context):
        self._object_name = context.active_object.name
        try:
            image = picked_image(context, self.image)
            photo = read_photo(image)
            engine, device = engine_and_device(context, self.engine)
            request = PhotoRequest(self.size, self.seamless, self.maps, self.upscale, self.seed,
                                   bpy.path.abspath(self.translator) if self.translator else "", engine, device,
                                   safe_model_name(image.name), straighten=self.straighten)
            check_request(photo.shape, request)
            self._options = options = context.scene.texgan.material_options()
            return self.start_job(context, request, run=photo_runner(photo),
                                  prepare=lambda maps: prepare_maps(maps, options))
        except (PhotoInputError, ModelFileError, GenerationError, LookupError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}

    def finish(self, context, prepared: PreparedMaps, manifest: dict, request: PhotoRequest):
        return create_material(self, context, prepared, manifest, request.seed, self._options, self._object_name)


class TEXGAN_OT_save_photo_model(JobOperator, bpy.types.Operator):
    """Turn an image into a model in your model library (no training): Generate and Variations
    then make new tileable materials from it"""
    bl_idname = "texgan.save_photo_model"
    bl_label = "Save as Model"
    bl_options = {"REGISTER"}
    doing = "saving the image as a model"

    image: bpy.props.StringProperty(name="Image", description=_IMAGE_DESCRIPTION)
    model_name: bpy.props.StringProperty(name="Name", description="The model's name (empty: the image's)")
    maps: bpy.props.BoolProperty(name="Separate Maps", default=True,
                                 description="Height and roughness from the translator (else flat)")
    straighten: bpy.props.BoolProperty(name="Straighten Perspective", default=True, description=STRAIGHTEN_DESCRIPTION)
    translator: bpy.props.StringProperty(name="Translator", description=_TRANSLATOR_DESCRIPTION)
    engine: bpy.props.StringProperty(name="Engine", description=_ENGINE_DESCRIPTION)

    def execute(self, context):
        try:
            image = picked_image(context, self.image)
            photo = read_photo(image)
            engine, device = engine_and_device(context, self.engine)
            folder = user_models_dir(context, create=True)
            request = PhotoModelRequest(self.model_name or image.name, folder, self.maps,
                                        bpy.path.abspath(self.translator) if self.translator else "", engine,
                                        device, source=image.name, straighten=self.straighten)
            return self.start_job(context, request, run=photo_model_runner(photo))
        except (PhotoInputError, ModelFileError, GenerationError) as exc:
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        except OSError as exc:
            self.report({"ERROR"}, f"Could not create the model folder: {exc.strerror or exc}")
            return {"CANCELLED"}

    def finish(self, context, path, manifest: dict, request: PhotoModelRequest):
        try:
            context.scene.texgan.model = USER_PREFIX + path.stem  # Generate and Variations use it now
        except TypeError:  # not listed (a models folder other than the preferences' one)
            self.report({"WARNING"}, f"Saved model '{path.stem}' to {path.parent}, which the model list does not show")
            return {"FINISHED"}
        self.report({"INFO"}, f"Saved model '{path.stem}' to your models; Generate and Variations now use it")
        return {"FINISHED"}


# ---------------------------------------------------------------- panels

class _PhotoPanel(SidebarPanel):
    """Image to Material, drawn alike in every editor's sidebar."""
    bl_label = "Image to Material"

    def draw(self, context):
        layout = self.layout
        settings = context.scene.texgan
        photo = settings.photo
        layout.template_ID(photo, "image", new="image.new", open="image.open")
        layout = split_layout(layout)
        layout.prop(photo, "seamless")
        col = layout.column()
        col.enabled = photo.seamless
        col.prop(photo, "size")
        col.prop(photo, "seed")
        layout.prop(photo, "straighten")
        layout.prop(photo, "upscale")
        layout.prop(photo, "maps")
        if photo.maps:
            layout.prop(photo, "translator_path")
            if not photo.translator_path and DEFAULT_TRANSLATOR not in bundled_translators():
                layout.label(text="Maps from luminance (gentle relief); a translator file is optional", icon="INFO")
        if draw_job_progress(layout):
            return
        translator = bpy.path.abspath(photo.translator_path) if photo.translator_path else ""
        image = photo.image.name if photo.image is not None else ""
        op = layout.operator("texgan.image_to_material", icon="MATERIAL")
        op.image, op.seamless, op.maps, op.size = image, photo.seamless, photo.maps, photo.size
        op.upscale, op.seed, op.translator = int(photo.upscale), photo.seed, translator
        op.straighten = photo.straighten
        op = layout.operator("texgan.save_photo_model", icon="FILE_TICK")
        op.image, op.maps, op.translator, op.straighten = image, photo.maps, translator, photo.straighten


class _PhotoMaterialPanel(SidebarPanel):
    """The Material and Output options (shared with Generate's), under the photo panel."""
    bl_label = "Material"
    bl_options = {"DEFAULT_CLOSED"}

    def draw(self, context):
        layout = split_layout(self.layout)
        draw_material_options(layout, context.scene.texgan)
        draw_output_options(layout, context.scene.texgan)


class TEXGAN_PT_photo(_PhotoPanel, bpy.types.Panel):
    bl_idname = "TEXGAN_PT_photo"
    bl_space_type = "VIEW_3D"


class TEXGAN_PT_photo_shader(_PhotoPanel, bpy.types.Panel):
    bl_idname = "TEXGAN_PT_photo_shader"
    bl_space_type = "NODE_EDITOR"

    @classmethod
    def poll(cls, context):
        space = context.space_data
        return space is None or getattr(space, "tree_type", "") == "ShaderNodeTree"


class TEXGAN_PT_photo_image(_PhotoPanel, bpy.types.Panel):
    bl_idname = "TEXGAN_PT_photo_image"
    bl_space_type = "IMAGE_EDITOR"


classes = (TEXGAN_OT_image_to_material, TEXGAN_OT_save_photo_model,
           TEXGAN_PT_photo, TEXGAN_PT_photo_shader, TEXGAN_PT_photo_image,
           *photo_sub_panels(_PhotoMaterialPanel, "_material"))
register, unregister = bpy.utils.register_classes_factory(classes)
