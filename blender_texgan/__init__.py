"""TexGAN: seamless PBR materials in Blender from local tileable texture models.

Importing this package never needs bpy: Blender-only code lives in the `blender` subpackage and is
imported by register(). The terminal entry is `python -m blender_texgan generate ...`.
"""


def register():
    from . import blender
    blender.register()


def unregister():
    from . import blender
    blender.unregister()
