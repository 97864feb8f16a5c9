"""Variations gallery: small previews for a row of seeds; clicking one generates it full size."""
from __future__ import annotations

import bpy
import bpy.utils.previews
import numpy as np

from ..core.modelfile import ModelFileError
from ..engine.generate import GenerationError, GenerationRequest, generate
from .preferences import preferences

PREVIEW_SIZE = 128
_previews = None          # bpy.utils.previews collection, owned by this module
variations: list[tuple[int, int]] = []  # (seed, icon_id) currently shown


def collection():
    return _previews


class TEXGAN_OT_generate_variations(bpy.types.Operator):
    """Generate small previews for several seeds; click one to generate it at full size"""
    bl_idname = "texgan.generate_variations"
    bl_label = "Generate Variations"
    bl_options = {"REGISTER"}

    count: bpy.props.IntProperty(name="Count", default=6, min=1, max=24)

    def execute(self, context):
        settings = context.scene.texgan
        prefs = preferences(context)
        engine = prefs.engine if prefs and prefs.engine != "external" else "auto"
        previews = collection()
        previews.clear()
        variations.clear()
        try:
            for seed in range(settings.seed, settings.seed + self.count):
                maps, _ = generate(GenerationRequest(settings.model_argument(), PREVIEW_SIZE, seed, engine=engine,
                                                  mode=settings.mode))
                preview = previews.new(f"seed_{seed}")
                preview.image_size = (PREVIEW_SIZE, PREVIEW_SIZE)
                rgba = np.ones((PREVIEW_SIZE, PREVIEW_SIZE, 4), np.float32)
                rgba[..., :3] = maps["albedo"] ** 2.2  # previews are linear; the map is sRGB
                preview.image_pixels_float.foreach_set(rgba[::-1].ravel())
                variations.append((seed, preview.icon_id))
        except (ModelFileError, GenerationError) as exc:
            previews.clear()
            variations.clear()
            self.report({"ERROR"}, str(exc))
            return {"CANCELLED"}
        return {"FINISHED"}


classes = (TEXGAN_OT_generate_variations,)


def register():
    global _previews
    _previews = bpy.utils.previews.new()
    for cls in classes:
        bpy.utils.register_class(cls)


def unregister():
    global _previews
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
    variations.clear()
    if _previews is not None:
        bpy.utils.previews.remove(_previews)
        _previews = None
