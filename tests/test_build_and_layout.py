"""The zip and the shape of the code: one version, dependencies pointing one way."""
from __future__ import annotations

import ast
import tomllib
import zipfile
from pathlib import Path

from blender_texgan.engine.generate import DEFAULT_MODEL

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "blender_texgan"


def test_zip_is_an_extension_with_the_default_model(built_zip):
    manifest = tomllib.loads((PACKAGE / "blender_manifest.toml").read_text())
    assert built_zip.name == f"blender_texgan-{manifest['version']}.zip"
    with zipfile.ZipFile(built_zip) as zf:
        names = set(zf.namelist())
        assert zf.testzip() is None
    assert {"blender_manifest.toml", "__init__.py", f"models/{DEFAULT_MODEL}.safetensors"} <= names
    assert not any("__pycache__" in n or n.endswith(".pyc") for n in names)
    assert manifest["blender_version_min"] == "4.2.0" and manifest["type"] == "add-on"


def test_version_lives_in_one_place():
    version = tomllib.loads((PACKAGE / "blender_manifest.toml").read_text())["version"]
    hits = [p for p in list(PACKAGE.rglob("*.py")) + [ROOT / "build.py", ROOT / "README.md"]
            if version in p.read_text() or "bl_info" in p.read_text()]
    assert hits == []


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def test_dependencies_point_one_way():
    for path in PACKAGE.rglob("*.py"):
        imports = _imports(path)
        assert "trainer" not in imports, f"{path} imports the trainer"
        if "core" in path.relative_to(PACKAGE).parts:
            assert not imports & {"bpy", "torch"}, f"{path} imports {imports & {'bpy', 'torch'}}"
        if "blender" not in path.relative_to(PACKAGE).parts:
            assert "bpy" not in imports, f"{path} imports bpy outside blender/"
    for path in (ROOT / "trainer").rglob("*.py"):
        assert "bpy" not in _imports(path)


def test_blender_classes_use_the_prefix():
    for path in (PACKAGE / "blender").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and any(
                    isinstance(b, ast.Attribute) and b.attr in {"Operator", "Panel", "PropertyGroup", "Menu",
                                                                "AddonPreferences"} for b in node.bases):
                assert node.name.startswith("TEXGAN_"), node.name
