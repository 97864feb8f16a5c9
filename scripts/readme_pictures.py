"""Regenerate the README's pictures headless: one Cycles render per bundled model, the maps of the
default model, and pictures of the sidebar panels and preferences (scripts/panel_picture.py). Run: .venv/bin/python scripts/readme_pictures.py  (writes docs/images/)."""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import build
from scripts import headless, panel_picture, pictures

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "docs" / "images"
SIZE, SAMPLES, RESOLUTION = 384, 24, 512


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    bpy = headless.start()
    addon = headless.install_extension(build.build(Path(tempfile.mkdtemp())))
    gen = sys.modules["bl_ext.user_default.blender_texgan.engine.generate"]
    png = sys.modules["bl_ext.user_default.blender_texgan.core.png"]
    for name in gen.bundled_models():
        headless.preview_scene(2.0, 1.5, 1.3, 50, (45, -25, 30), SIZE, SAMPLES)
        bpy.context.scene.texgan.real_size = 1.0
        bpy.ops.texgan.generate_material(model=name, resolution=RESOLUTION, seed=0)
        settings = bpy.context.scene.render.image_settings  # docs pictures are JPEG (scripts/pictures.py)
        settings.file_format, settings.quality, settings.color_mode = "JPEG", pictures.QUALITY, "RGB"
        bpy.context.scene.render.filepath = str(OUT / f"{name}.jpg")
        bpy.ops.render.render(write_still=True)
        print(OUT / f"{name}.jpg")
    maps, _ = gen.generate(gen.GenerationRequest(gen.default_model_name(), 256, 0))
    for map_name, array in maps.items():
        png.write_png(OUT / f"default_{map_name}.png", array)
    bpy.ops.texgan.generate_variations(count=6)
    panel_picture.sidebar_picture(addon).save(OUT / "panel.png")
    panel_picture.preferences_picture(addon).save(OUT / "preferences.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
