"""Contact sheets of a texture VAE for docs/vae/, to judge by eye:

    variations_<texture>.jpg   texture | the VAE's reconstruction | variations at strength 0, 0.5, 1, for
                               the VAE's own exemplar with its real maps (own_maps), and for two
                               images read as a user's are (relief from luminance): the photo the
                               VAE learned from (bricks102) and one it never saw (gravel)
    interpolate.jpg            a latent walk between two seeds (the VAE's own decoding)
    gan_vs_vae.jpg             the same material from the GANs and from the VAE: neural row, then refined

    .venv/bin/python -m scripts.vae_sheet [MODEL [GAN_MODEL ...]]   # default: stone_wall_vae stone_wall
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image

from blender_texgan.core.latent import seed_latent
from blender_texgan.core.morph import slerp
from blender_texgan.engine.generate import GenerationRequest, generate, load_runner
from blender_texgan.engine.latent.variations import VariationsRequest, encode
from blender_texgan.engine.library import resolve_model
from scripts.pictures import write_jpeg

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "vae"
DATA = ROOT.parent / "shared" / "data" / "cc0"
TEXTURES = {"bricks102": DATA / "Bricks102" / "Bricks102_albedo.jpg",  # what the bundled VAE learned
            "gravel": ROOT / "benchmarks" / "data" / "skimage" / "gravel.png"}  # what it never saw
SIZE, CELL, GAP = 512, 256, 4


def tile_image(a: np.ndarray) -> Image.Image:
    a = np.clip(a[..., :3], 0, 1)
    return Image.fromarray((a * 255 + 0.5).astype(np.uint8)).resize((CELL, CELL), Image.LANCZOS)


def row(images: list[np.ndarray]) -> Image.Image:
    sheet = Image.new("RGB", (len(images) * (CELL + GAP) - GAP, CELL), "white")
    for i, a in enumerate(images):
        sheet.paste(tile_image(a), (i * (CELL + GAP), 0))
    return sheet


def save(image: Image.Image, name: str) -> None:
    print(write_jpeg(OUT / name, image))


def variations_sheet(model: str, name: str, texture) -> None:
    side = min(texture.exemplar.shape[:2])
    images = [texture.exemplar[:side, :side], texture.reconstruction()]
    images += [texture.variant(SIZE, seed, strength)["albedo"] for seed, strength in ((0, 0.0), (1, 0.5), (2, 1.0))]
    save(row(images), f"variations_{name}.jpg")


def photo_texture(model: str, path: Path):
    """An image file read as a user's texture is: albedo from the photo, relief from luminance."""
    with Image.open(path) as im:
        photo = np.asarray(im.convert("RGB"), np.float32) / 255.0
    return encode(photo, VariationsRequest(model, size=SIZE, engine="numpy"))


def own_texture(model: str):
    """The VAE's own exemplar with its real maps (height and roughness measured, not guessed)."""
    from blender_texgan.core.synthesis.exemplar_analysis import analyse
    from blender_texgan.engine.latent.variations import EncodedTexture, encode_texture

    runner = load_runner(resolve_model(model), "numpy")
    exemplar = runner.exemplar
    return EncodedTexture(runner, exemplar, float(runner.exemplar_block["normal_strength"]),
                          encode_texture(runner, exemplar), analyse(exemplar, periodic=False))


def interpolate_sheet(model: str, frames: int = 6) -> None:
    runner = load_runner(resolve_model(model), "numpy")
    a, b = (seed_latent(runner.layout, s, SIZE // 2)[0] for s in (0, 7))
    save(row([np.moveaxis(runner.forward(slerp(a, b, t)), 0, -1) for t in np.linspace(0, 1, frames)]),
         "interpolate.jpg")


def gan_vs_vae_sheet(vae: str, gans: list[str]) -> None:
    images = []
    for mode in ("neural", "refined"):
        for model in (*gans, vae):
            images.append(generate(GenerationRequest(model, SIZE, seed=3, engine="numpy", mode=mode))[0]["albedo"])
    save(row(images), "gan_vs_vae.jpg")


def main(argv: list[str]) -> int:
    vae = argv[0] if argv else "stone_wall_vae"
    gans = argv[1:] or ["stone_wall"]
    variations_sheet(vae, "own_maps", own_texture(vae))
    for name, path in TEXTURES.items():
        variations_sheet(vae, name, photo_texture(vae, path))
    interpolate_sheet(vae)
    gan_vs_vae_sheet(vae, gans)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
