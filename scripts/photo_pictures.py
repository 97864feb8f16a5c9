"""Pictures for docs/photo.md, made headless: for each photo, photo | made seamless, tiled 2x2 |
albedo | normal | height | roughness | a Cycles render of the material (Image to Material from the
installed add-on, on a plane two repeats wide).

    .venv/bin/python -m scripts.photo_pictures   # docs/photo/material_*.png, docs/images/photo_panel.png
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import build
from scripts import headless, panel_picture

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "photo"
PHOTOS = [ROOT / "benchmarks" / "data" / "skimage" / n for n in ("gravel.png", "brick.png")]
SIZE, CELL, RENDER, SAMPLES = 512, 256, 384, 24


def to_image(a: np.ndarray, side: int) -> Image.Image:
    a = np.clip(a, 0, 1)
    a = np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a
    return Image.fromarray((a * 255 + 0.5).astype(np.uint8)).resize((side, side), Image.LANCZOS)


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    bpy = headless.start()
    addon = headless.install_extension(build.build(Path(tempfile.mkdtemp())))
    photo_mod = sys.modules["bl_ext.user_default.blender_texgan.engine.photo.pipeline"]
    for path in PHOTOS:
        with Image.open(path) as im:
            photo = np.asarray(im.convert("RGB"), np.float32) / 255.0
        maps = photo_mod.photo_to_material(photo, photo_mod.PhotoRequest(size=SIZE, name=path.stem))
        headless.preview_scene(2.0, 1.5, 1.3, 50, (45, -25, 30), RENDER, SAMPLES)
        bpy.context.scene.texgan.real_size = 1.0
        image = bpy.data.images.load(str(path))
        bpy.ops.texgan.image_to_material(image=image.name, size=SIZE)
        render = Path(tempfile.mkdtemp()) / "render.png"
        bpy.context.scene.render.filepath = str(render)
        bpy.ops.render.render(write_still=True)
        tiles = [to_image(photo, CELL), to_image(np.tile(maps["albedo"], (2, 2, 1)), CELL)]
        tiles += [to_image(maps[m], CELL) for m in ("albedo", "normal", "height", "roughness")]
        with Image.open(render) as im:
            tiles.append(im.convert("RGB").resize((CELL, CELL), Image.LANCZOS))
        sheet = Image.new("RGB", (len(tiles) * (CELL + 4) - 4, CELL), "white")
        for i, tile in enumerate(tiles):
            sheet.paste(tile, (i * (CELL + 4), 0))
        sheet.save(OUT / f"material_{path.stem}.png")
        print(OUT / f"material_{path.stem}.png")
        bpy.context.scene.texgan.photo.image = image
    picture = ROOT / "docs" / "images" / "photo_panel.png"
    panel_picture.paint(panel_picture.photo_panels(addon)).save(picture)
    print(picture)
    return 0


if __name__ == "__main__":
    sys.exit(main())
