"""The texture VAE against the GAN on the same data, and its round trip against the simplest methods.

    .venv/bin/python benchmarks/vae.py [--vae M] [--gans M ...] [--crops 6] > benchmarks/results/vae.txt

1. GAN vs VAE (models trained on the same exemplar; figures from each model file's export-time
   quality block, measured on held-out crops of that exemplar): per generation mode, the fine-scale
   SWD ratio (patch statistics at full resolution; 1 = as close as two sets of real crops), the
   coarse-scale SWD ratio (the same on 4x shrunken crops: layout and large elements), the diversity
   ratio (spread of generated crops against the spread of real ones) and the albedo band-pass ratio
   (fine detail energy against the real crops': below 1 blurred, above 1 over-sharp).
2. Round trip of textures (encode -> decode), on CROP px crops of the VAE's own exemplar (what it
   was trained on) and of scikit-image's gravel (what it never saw), each crop against:
   * neural     the VAE's decoding of the crop's code (the layout it keeps, without detail)
   * refined    that decoding as the guide of synthesis against the crop itself, at
                engine.latent.variations' guide weight (a variation at strength 0)
   * random     synthesis against the crop with no guide (keeps nothing of the layout)
   * T&B        tiling and blending of the crop (Heitz & Neyret; keeps nothing of the layout)
   Figures: "layout", the normalised cross-correlation of the output's coarse luminance (16x
   shrunk) with the input's, best over circular shifts (1: the same layout; a random texture of
   the same kind scores what random and T&B score); "SWD", the SWD ratio of the outputs against
   the input crops over other crops of the same source (1: as close as real crops).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from blender_texgan.core.modelfile import read_manifest
from blender_texgan.core.photo.upscale import box_shrink
from blender_texgan.core.synthesis.exemplar_analysis import analyse
from blender_texgan.core.synthesis.tiling_blend import analyse as blend_analyse
from blender_texgan.core.synthesis.tiling_blend import synthesize as blend_synthesize
from blender_texgan.engine.generate import exemplar_synthesis, load_runner
from blender_texgan.engine.latent.variations import GUIDE_WEIGHT, encode_texture, match_statistics
from blender_texgan.engine.library import resolve_model
from blender_texgan.engine.photo.save_as_model import photo_exemplar
from trainer.metrics import swd_ratio

ROOT = Path(__file__).resolve().parent.parent

CROP, COARSE = 256, 16
MODES = ("neural", "refined", "random")
KEYS = (("swd_ratio", "SWD fine"), ("coarse_swd_ratio", "SWD coarse"), ("diversity_ratio", "diversity"),
        ("bandpass_ratio_albedo", "sharpness"))


def gan_vs_vae(models: list[str]) -> None:
    print("## GAN vs VAE on the same exemplar (export-time quality, held-out crops)\n")
    print(f"{'model':24s} {'kind':9s} {'steps':>5s} {'min':>5s} {'mode':8s} " + " ".join(f"{t:>10s}" for _, t in KEYS))
    for model in models:
        m = read_manifest(resolve_model(model))
        quality, training = m.get("quality") or {}, m.get("training") or {}
        rows = [(mode, quality.get(mode)) for mode in MODES] + [("T&B", quality.get("baseline"))]
        for mode, q in rows:
            if not q:
                continue
            cells = " ".join(f"{q.get(k, float('nan')):10.3f}" for k, _ in KEYS)
            print(f"{m['name']:24s} {m['kind']:9s} {training.get('steps', 0):5d} "
                  f"{training.get('seconds', 0) / 60:5.1f} {mode:8s} {cells}")
    print()


def coarse_luminance(stack: np.ndarray) -> np.ndarray:
    lum = box_shrink(stack[..., :3], COARSE).mean(axis=-1)
    return (lum - lum.mean()) / max(float(lum.std()), 1e-6)


def layout_kept(out: np.ndarray, source: np.ndarray) -> float:
    """Best normalised circular cross-correlation of the coarse luminances."""
    a, b = coarse_luminance(out), coarse_luminance(source)
    corr = np.fft.ifft2(np.fft.fft2(a) * np.conj(np.fft.fft2(b))).real / a.size
    return float(corr.max())


def round_trips(runner, crop: np.ndarray, relief: float, seed: int) -> dict[str, np.ndarray]:
    side = crop.shape[0]
    block = {"normal_strength": relief, "lattice": [0, 0]}
    analysis = analyse(crop, periodic=False)
    mean = encode_texture(runner, crop)
    decoded = np.moveaxis(runner.forward(mean), 0, -1)
    guide = match_statistics(decoded, crop)
    from blender_texgan.core.photo.upscale import periodic_resize
    out = {"neural": np.clip(periodic_resize(decoded, side, side), 0, 1)}
    out["refined"] = exemplar_synthesis(crop, analysis, block, side, seed, guide, False,
                                        guide_weight=GUIDE_WEIGHT)[0]
    out["random"] = exemplar_synthesis(crop, analysis, block, side, seed, None, False)[0]
    out["T&B"] = blend_synthesize(blend_analyse(crop), side, side, seed)
    for name in ("refined", "random"):
        m = out[name]
        out[name] = np.concatenate([m["albedo"], m["height"], m["roughness"]], axis=-1)
    return out


def crops_of(exemplar: np.ndarray, count: int) -> list[np.ndarray]:
    h, w = exemplar.shape[:2]
    rng = np.random.default_rng(7)
    return [exemplar[y:y + CROP, x:x + CROP] for y, x in
            zip(rng.integers(0, h - CROP + 1, count), rng.integers(0, w - CROP + 1, count))]


def round_trip_table(vae: str, sources: dict[str, np.ndarray], count: int) -> None:
    runner = load_runner(resolve_model(vae), "numpy")
    print(f"## Round trip with {runner.model.name} ({CROP} px crops, {count} per source)\n")
    print(f"{'source':12s} {'method':8s} {'layout':>7s} {'SWD':>7s}")
    for name, stack in sources.items():
        crops = crops_of(stack, 2 * count)
        inputs, others = crops[:count], crops[count:]
        outs: dict[str, list] = {}
        for i, crop in enumerate(inputs):
            for method, out in round_trips(runner, crop, 8.0, i).items():
                outs.setdefault(method, []).append(out)
        batch = lambda xs: np.stack([np.moveaxis(x, -1, 0) for x in xs])  # noqa: E731
        for method, out in outs.items():
            layout = np.mean([layout_kept(o, c) for o, c in zip(out, inputs)])
            swd = swd_ratio(batch(out), batch(inputs), batch(others), seed=1)
            print(f"{name:12s} {method:8s} {layout:7.3f} {swd:7.3f}")
    print()


def load_stack(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        photo = np.asarray(im.convert("RGB"), np.float32) / 255.0
    return photo_exemplar(photo, classical=True)[0]


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vae", default="stone_wall_vae")
    p.add_argument("--gans", nargs="*", default=["stone_wall"])
    p.add_argument("--crops", type=int, default=6)
    args = p.parse_args()
    gan_vs_vae([*args.gans, args.vae])
    runner = load_runner(resolve_model(args.vae), "numpy")
    sources = {"own exemplar": runner.exemplar,
               "gravel": load_stack(ROOT / "benchmarks" / "data" / "skimage" / "gravel.png")}
    round_trip_table(args.vae, sources, args.crops)
    return 0


if __name__ == "__main__":
    sys.exit(main())
