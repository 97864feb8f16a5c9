"""Everything that imports bpy. Each module has a `classes` tuple and register()/unregister()."""
from . import gallery, operators, panels, photo, preferences, properties

_MODULES = (preferences, properties, operators, gallery, panels, photo)


def register():
    for module in _MODULES:
        module.register()


def unregister():
    for module in reversed(_MODULES):
        module.unregister()
