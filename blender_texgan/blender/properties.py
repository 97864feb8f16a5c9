"""All TexGAN UI state: one PropertyGroup behind scene.texgan."""
from __future__ import annotations

import bpy

from ..engine.generate import bundled_models, default_model_name

CUSTOM = "__custom__"
_enum_items: list[tuple[str, str, str]] = []  # kept alive: Blender does not copy enum item strings


def model_items(self, context):
    _enum_items[:] = [(name, name.replace("_", " ").title(), f"Bundled model {name}")
                      for name in bundled_models()]
    _enum_items.append((CUSTOM, "Model File...", "Use a .safetensors model file from disk"))
    return _enum_items


class TEXGAN_PG_settings(bpy.types.PropertyGroup):
    model: bpy.props.EnumProperty(name="Model", description="Texture model to generate with",
                                  items=model_items)
    model_path: bpy.props.StringProperty(name="Model File", description="Path to a .safetensors model file",
                                         subtype="FILE_PATH")
    resolution: bpy.props.IntProperty(name="Resolution", description="Width and height of the maps in pixels",
                                      default=1024, min=32, max=8192, step=16)
    seed: bpy.props.IntProperty(name="Seed", description="Same seed, same material", default=0, min=0)

    def model_argument(self) -> str:
        """What to pass as the operator's `model`: a bundled name or a file path."""
        if self.model == CUSTOM:
            return bpy.path.abspath(self.model_path)
        return self.model or default_model_name()


classes = (TEXGAN_PG_settings,)


def register():
    for cls in classes:
        bpy.utils.register_class(cls)
    bpy.types.Scene.texgan = bpy.props.PointerProperty(type=TEXGAN_PG_settings)


def unregister():
    del bpy.types.Scene.texgan
    for cls in reversed(classes):
        bpy.utils.unregister_class(cls)
