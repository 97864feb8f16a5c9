"""Drive real Blender (the bpy module) headless, the way a user installs the add-on.

Used by the demo and the tests. start() must run before anything imports bpy: it points Blender's
user resources at a temporary folder, so nothing touches a home folder.
"""
from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

_user_dir: Path | None = None


def start(user_dir: str | os.PathLike | None = None):
    """Import bpy with a private user-resources folder; returns the bpy module."""
    global _user_dir
    if "bpy" in sys.modules:
        return sys.modules["bpy"]
    _user_dir = Path(user_dir or tempfile.mkdtemp(prefix="texgan-blender-user-"))
    os.environ["BLENDER_USER_RESOURCES"] = str(_user_dir)
    import bpy
    return bpy


def validate_extension(zip_path: str | os.PathLike) -> None:
    """Blender's own extension validator; raises AssertionError with its output when it refuses."""
    import contextlib
    import io

    import addon_utils  # noqa: F401  (ensures bundled add-ons are importable)
    from bl_pkg import bl_extension_cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        try:
            code = bl_extension_cli.cli_extension_handler(["validate", str(zip_path)])
        except SystemExit as exc:
            code = exc.code
    if code not in (0, None):
        raise AssertionError(f"Blender's validator refused {zip_path}: {out.getvalue().strip()}")


def install_extension(zip_path: str | os.PathLike, module: str = "blender_texgan") -> str:
    """Install from the zip into the user repository and enable it; returns the add-on module name."""
    import addon_utils
    import bpy

    result = bpy.ops.extensions.package_install_files(
        filepath=str(zip_path), repo="user_default", enable_on_install=True)
    if result != {"FINISHED"}:
        raise RuntimeError(f"installing {zip_path} returned {result}")
    name = f"bl_ext.user_default.{module}"
    if not addon_utils.check(name)[1]:
        raise RuntimeError(f"{name} is installed but not enabled")
    return name


def infinite_plane(model: str, resolution: int, seed: int, size: float = 8.0):
    """Empty the scene, then an 8 m plane (active) given `model`'s infinite (render-time) material, its
    images packed. Returns (the plane, the operator's result)."""
    import bpy

    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    bpy.ops.mesh.primitive_plane_add(size=size)
    plane = bpy.context.active_object
    settings = bpy.context.scene.texgan
    settings.surface, settings.target, settings.output = "INFINITE", "ACTIVE", "PACK"
    return plane, bpy.ops.texgan.generate_material(model=model, resolution=resolution, seed=seed)


def preview_scene(plane_size: float, camera_distance: float, camera_height: float, camera_tilt_deg: float,
                  sun_rotation_deg: tuple[float, float, float], size: int, samples: int):
    """Empty the scene, then a plane (active and selected), a camera looking down at it, a sun and
    Cycles on the CPU rendering `size` x `size` PNGs. Returns the plane."""
    import math

    import bpy

    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    bpy.ops.mesh.primitive_plane_add(size=plane_size)
    plane = bpy.context.active_object
    bpy.ops.object.camera_add(location=(0.0, -camera_distance, camera_height),
                              rotation=(math.radians(camera_tilt_deg), 0.0, 0.0))
    scene = bpy.context.scene
    scene.camera = bpy.context.active_object
    bpy.ops.object.light_add(type="SUN", rotation=tuple(math.radians(a) for a in sun_rotation_deg))
    bpy.context.active_object.data.energy = 3.5
    bpy.context.view_layer.objects.active = plane
    plane.select_set(True)
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = samples
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.image_settings.file_format = "PNG"
    return plane
