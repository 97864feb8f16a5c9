"""Everything that imports bpy. Each module has a `classes` tuple and register()/unregister()."""
from . import gallery, latent, operators, panels, photo, preferences, properties, transform_material

_MODULES = (preferences, properties, operators, gallery, panels, photo, latent, transform_material)


def register():
    for module in _MODULES:
        module.register()


def unregister():
    for module in reversed(_MODULES):
        module.unregister()
