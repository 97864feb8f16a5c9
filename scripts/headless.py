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
