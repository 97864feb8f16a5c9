"""Add-on preferences: which engine and device generate."""
from __future__ import annotations

import bpy

ADDON_PACKAGE = __package__.rpartition(".")[0]  # the add-on's root package, however it is installed

ENGINE_ITEMS = [
    ("auto", "Automatic", "PyTorch when Blender can import it, else the built-in numpy engine"),
    ("torch", "PyTorch", "PyTorch on the device below (needs torch installed in Blender's Python)"),
    ("numpy", "Built-in (CPU)", "Zero-install CPU engine using numpy, which ships with Blender"),
    ("external", "External Python", "Run generation in another Python that has torch (with CUDA)"),
]
DEVICE_ITEMS = [
    ("auto", "Automatic", "CUDA, then Apple Metal (MPS), then the CPU"),
    ("cuda", "CUDA", "NVIDIA GPU"),
    ("mps", "Metal", "Apple GPU"),
    ("cpu", "CPU", "Processor"),
]


class TEXGAN_AddonPreferences(bpy.types.AddonPreferences):
    bl_idname = ADDON_PACKAGE

    engine: bpy.props.EnumProperty(name="Engine", items=ENGINE_ITEMS, default="auto")
    device: bpy.props.EnumProperty(name="Device", items=DEVICE_ITEMS, default="auto")
    models_dir: bpy.props.StringProperty(name="User Models", subtype="DIR_PATH",
                                         description="Folder of your own .safetensors models (imports go here)")
    python: bpy.props.StringProperty(name="External Python", subtype="FILE_PATH",
                                     description="Python interpreter with torch installed, for the External engine")

    def draw(self, context):
        layout = self.layout
        layout.use_property_split = True
        layout.prop(self, "models_dir")
        layout.prop(self, "engine")
        row = layout.row()
        row.enabled = self.engine != "numpy"
        row.prop(self, "device")
        row = layout.row()
        row.enabled = self.engine == "external"
        row.prop(self, "python")


def preferences(context=None):
    """The add-on's preferences, or None when the add-on is not registered as such (scripts)."""
    context = context or bpy.context
    addon = context.preferences.addons.get(ADDON_PACKAGE)
    return addon.preferences if addon is not None else None


def user_models_dir(context=None, create: bool = False) -> str:
    """Where imported models go: the preferences folder, else the extension's user folder
    (created only when asked, i.e. when importing)."""
    prefs = preferences(context)
    if prefs is not None and prefs.models_dir:
        return bpy.path.abspath(prefs.models_dir)
    return bpy.utils.extension_path_user(ADDON_PACKAGE, path="models", create=create)


classes = (TEXGAN_AddonPreferences,)
register, unregister = bpy.utils.register_classes_factory(classes)
