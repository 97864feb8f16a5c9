"""Everything that imports bpy. Each module has a `classes` tuple and register()/unregister()."""
from . import gallery, latent, material_translation, operators, panels, photo, preferences, properties

_MODULES = (preferences, properties, operators, gallery, panels, photo, latent, material_translation)


def register():
    for module in _MODULES:
        module.register()


def unregister():
    for module in reversed(_MODULES):
        module.unregister()
