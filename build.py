"""Zip the add-on: blender_texgan/ -> dist/blender_texgan-<version>.zip (a Blender 4.2+ extension).

Standard library only. The version lives in blender_texgan/blender_manifest.toml and nowhere else.
Usage: python build.py [--out DIR]
"""
from __future__ import annotations

import argparse
import sys
import tomllib
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent
PACKAGE = ROOT / "blender_texgan"
MANIFEST = PACKAGE / "blender_manifest.toml"
EXCLUDED_DIRS = {"__pycache__", ".pytest_cache"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo", ".part"}


def read_manifest() -> dict:
    with open(MANIFEST, "rb") as f:
        return tomllib.load(f)


def package_files() -> list[Path]:
    files = []
    for path in sorted(PACKAGE.rglob("*")):
        rel = path.relative_to(PACKAGE)
        if path.is_file() and not EXCLUDED_DIRS & set(rel.parts) and path.suffix not in EXCLUDED_SUFFIXES:
            files.append(path)
    return files


def build(out_dir: Path = ROOT / "dist") -> Path:
    manifest = read_manifest()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['id']}-{manifest['version']}.zip"
    tmp = target.with_name(target.name + ".part")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in package_files():
            # Model weights barely compress; storing them keeps install fast.
            kind = zipfile.ZIP_STORED if path.suffix == ".safetensors" else zipfile.ZIP_DEFLATED
            zf.write(path, path.relative_to(PACKAGE).as_posix(), compress_type=kind)
    tmp.replace(target)
    return target


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=ROOT / "dist", help="output folder (default: dist/)")
    args = parser.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
