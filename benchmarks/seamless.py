"""Make seamless and tileable upscale on photos: ours against a GIMP-style blend and tiling and blending.

    .venv/bin/python benchmarks/seamless.py [--size 512] [--pictures docs/photo] > benchmarks/results/seamless.txt

Pictures (--pictures): photo | GIMP-style tiled 2x2 | ours tiled 2x2 (tilings shown at half size).

Photos: scikit-image's gravel, brick and grass (CC0, 512x512 grey, copied into benchmarks/data/skimage)
and 512x512 crops at an odd offset of CC0 albedos from ../shared/data/cc0 (left out when that folder
is missing). None of them tiles: the first column gives each one's own seam ratio.

Per photo and method, on the output (size x size; GIMP-style keeps the photo's size):
* seam: core.tiling.seam_ratio (wrap-border jump / interior jump; about 1 when the seam is gone);
* SWD: trainer.metrics.swd_ratio of CROPS crops of CROP px from the output (wrapping: the outputs
  tile) against crops of the photo, over reference crops of the photo itself: SWD to the source
  relative to real-vs-real. Mean over METRIC_SEEDS crop draws (one draw is noisy: the photo against
  itself scores 0.94-1.22 with one draw);
* time: seconds for one output (ours: analysis included).
Ours and tiling and blending are random: their seam and SWD are means over SEEDS seeds.

Methods: ours (core.seamless.make_seamless, seed 0, lighting equalised); GIMP-style (the documented
method of GIMP's Tile Seamless, reimplemented: the image blended with its copy shifted by half a
period on both axes, the original weighted by the product of its distances to the border along each
axis -- 1 at the centre, 0 at the edges -- the copy by the rest; blending all four half-shifted copies
scored worse still); tiling and blending (core.tiling_blend, Heitz & Neyret 2018 made periodic: the
strongest simple baseline). Medians over the photos, and the ratios of ours to GIMP-style.

Upscale (core.upscale), per photo: the photo shrunk 2x, made seamless at half size, enlarged 2x by
plain periodic bicubic and by ours (synthesised finest octave), and the full photo analysed at half
scale and enlarged 2x by ours reading the real pixels. Reported: seam of the 2x result tiled, and the
finest-band energy (core.upscale.finest_band) relative to the photo's own (1 = as sharp as the photo).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from blender_texgan.core.maps import GENERATED_CHANNEL_COUNT  # noqa: E402
from blender_texgan.core.seamless import check_photo, make_seamless, prepare_photo, render, seamless_field  # noqa: E402
from blender_texgan.core.tiling import seam_ratio, tile  # noqa: E402
from blender_texgan.core.upscale import box_shrink, finest_band, periodic_resize  # noqa: E402
from blender_texgan.engine.image_files import read_image  # noqa: E402
from trainer.metrics import swd_ratio  # noqa: E402

SKIMAGE = ROOT / "benchmarks" / "data" / "skimage"
CC0 = ROOT.parent / "shared" / "data" / "cc0"
CC0_CROPS = {"cliff_side": (700, 900), "cobblestone_pavement": (333, 1210), "Rock058": (200, 300),
             "coast_sand_rocks_02": (150, 420), "Bark014": (250, 100)}
CROP, CROPS, METRIC_SEEDS = 128, 32, 4
PICTURES = ("gravel", "Bark014", "cobblestone_pavement")
SEEDS = 3  # ours and tiling and blending: SWD ratio and seam are means over this many seeds


def photos(size: int) -> dict[str, np.ndarray]:
    out = {n: read_image(SKIMAGE / f"{n}.png") for n in ("gravel", "brick", "grass")}
    if CC0.is_dir():
        for name, (y, x) in CC0_CROPS.items():
            found = sorted(CC0.glob(f"{name}/{name}_albedo.*"))
            if found:
                out[name] = read_image(found[0])[y:y + size, x:x + size]
    return {k: v[:size, :size] for k, v in out.items()}


def gimp_style(image: np.ndarray) -> np.ndarray:
    """The image blended with its half-period-shifted copy, weights by distance to the centre."""
    h, w = image.shape[:2]
    tent_y = 1.0 - np.abs((np.arange(h) + 0.5) / h * 2.0 - 1.0)
    tent_x = 1.0 - np.abs((np.arange(w) + 0.5) / w * 2.0 - 1.0)
    weight = (tent_y[:, None] * tent_x[None, :])[..., None].astype(np.float32)
    return weight * image + (1.0 - weight) * np.roll(image, (-(h // 2), -(w // 2)), axis=(0, 1))


def tiling_and_blending(image: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """core.tiling_blend on a photo: its channels as albedo (grey repeated), flat height and roughness."""
    from blender_texgan.core.tiling_blend import analyse, synthesize

    rgb = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image[..., :3]
    stack = np.concatenate([rgb, np.full(rgb.shape[:2] + (GENERATED_CHANNEL_COUNT - 3,), 0.5, np.float32)], -1)
    return synthesize(analyse(stack), size, size, seed)[..., :image.shape[2]]


def crops(image: np.ndarray, count: int, rng: np.random.Generator, wrap: bool) -> np.ndarray:
    """count CROP x CROP crops as (N, C, CROP, CROP): anywhere with wrap-around, else fully inside."""
    h, w = image.shape[:2]
    out = []
    for _ in range(count):
        if wrap:
            y, x = int(rng.integers(h)), int(rng.integers(w))
            c = image[((y + np.arange(CROP)) % h)[:, None], ((x + np.arange(CROP)) % w)[None, :]]
        else:
            y, x = int(rng.integers(h - CROP + 1)), int(rng.integers(w - CROP + 1))
            c = image[y:y + CROP, x:x + CROP]
        out.append(np.moveaxis(c, -1, 0))
    return np.stack(out)


def swd_to_photo(output: np.ndarray, photo: np.ndarray) -> float:
    values = []
    for seed in range(METRIC_SEEDS):
        held = crops(photo, CROPS, np.random.default_rng([seed, 1]), wrap=False)
        reference = crops(photo, CROPS, np.random.default_rng([seed, 2]), wrap=False)
        fake = crops(output, CROPS, np.random.default_rng([seed, 3]), wrap=True)
        values.append(swd_ratio(fake, held, reference, seed=seed))
    return float(np.mean(values))


def mean(metric, images, *args) -> float:
    return float(np.mean([metric(image, *args) for image in images]))


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def band_energy(image: np.ndarray, periodic: bool) -> float:
    return float((finest_band(image, periodic=periodic) ** 2).mean())


def upscale_row(name: str, photo: np.ndarray, size: int) -> dict:
    half = box_shrink(photo, 2)
    truth = band_energy(photo, periodic=False)
    low = make_seamless(half, size // 2)
    bicubic = np.clip(periodic_resize(low, size, size), 0, 1)
    ours, t_synth = timed(make_seamless, half, size // 2, upscale=2)
    real, t_real = timed(make_seamless, photo, size // 2, upscale=2, analysis_side=max(photo.shape[:2]) // 2)
    row = {"photo": name, "t_synth": t_synth, "t_real": t_real}
    for key, img in (("bicubic", bicubic), ("synth", ours), ("real", real)):
        row[f"seam_{key}"] = seam_ratio(img)
        row[f"sharp_{key}"] = band_energy(img, periodic=True) / truth
    return row


def picture(path: Path, photo: np.ndarray, gimp: np.ndarray, ours: np.ndarray) -> None:
    """photo | GIMP-style tiled 2x2 | ours tiled 2x2, each panel the photo's size (tilings halved)."""
    from PIL import Image

    def panel(a):
        a = np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a[..., :3]
        return (np.clip(a, 0, 1) * 255 + 0.5).astype(np.uint8)

    h = photo.shape[0]
    gap = np.full((h, 8, 3), 255, np.uint8)
    parts = [panel(photo), gap, panel(box_shrink(tile(gimp), 2)), gap, panel(box_shrink(tile(ours), 2))]
    image = Image.fromarray(np.concatenate(parts, axis=1))
    if all(p.shape[2] == 1 for p in (photo,)):
        image = image.convert("L")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="output side and photo crop side")
    parser.add_argument("--pictures", type=Path, default=None, help="write side-by-side PNGs here")
    args = parser.parse_args()
    rows, up_rows = [], []
    for name, photo in photos(args.size).items():
        photo = check_photo(photo)
        ours, t_ours = timed(make_seamless, photo, args.size, seed=0)
        prepared = prepare_photo(photo)  # more seeds of the same analysis (make_seamless's, seed 0, is timed)
        more = [render(prepared, seamless_field(prepared, args.size, seed), args.size) for seed in range(1, SEEDS)]
        gimp, t_gimp = timed(gimp_style, photo)
        blend, t_blend = timed(tiling_and_blending, photo, args.size)
        blends = [blend] + [tiling_and_blending(photo, args.size, seed) for seed in range(1, SEEDS)]
        rows.append({"photo": name, "channels": photo.shape[2], "seam_photo": seam_ratio(photo),
                     "seam_ours": mean(seam_ratio, [ours, *more]), "swd_ours": mean(swd_to_photo, [ours, *more], photo),
                     "t_ours": t_ours, "seam_gimp": seam_ratio(gimp), "swd_gimp": swd_to_photo(gimp, photo),
                     "t_gimp": t_gimp, "seam_blend": mean(seam_ratio, blends),
                     "swd_blend": mean(swd_to_photo, blends, photo), "t_blend": t_blend})
        print(f"# {name}: done", file=sys.stderr, flush=True)
        if args.pictures and name in PICTURES:
            picture(args.pictures / f"{name}.png", photo, gimp, ours)
        if name in ("gravel", "grass", "cliff_side", "cobblestone_pavement"):
            up_rows.append(upscale_row(name, photo, args.size))
    report(rows, up_rows, args.size)


def report(rows: list[dict], up_rows: list[dict], size: int) -> None:
    print(f"Make seamless, {size}x{size} photos -> {size}x{size} tileable (GIMP-style keeps the photo's size);"
          f" SWD over {CROPS} crops of {CROP} px, mean of {METRIC_SEEDS} draws; ours and T&B: seam and SWD means"
          f" over {SEEDS} seeds, time of one output (ours: analysis included). One run, 2-core CPU.\n")
    head = (f"{'photo':22} {'C':>1} {'seam':>6} | {'ours seam':>9} {'SWD':>5} {'s':>5} | {'GIMP seam':>9} {'SWD':>5}"
            f" {'s':>5} | {'T&B seam':>8} {'SWD':>5} {'s':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['photo']:22} {r['channels']:>1} {r['seam_photo']:6.2f} | {r['seam_ours']:9.2f} {r['swd_ours']:5.2f}"
              f" {r['t_ours']:5.1f} | {r['seam_gimp']:9.2f} {r['swd_gimp']:5.2f} {r['t_gimp']:5.2f} |"
              f" {r['seam_blend']:8.2f} {r['swd_blend']:5.2f} {r['t_blend']:5.1f}")
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0] if k not in ("photo", "channels")}
    print("-" * len(head))
    print(f"{'median':22} {'':1} {med['seam_photo']:6.2f} | {med['seam_ours']:9.2f} {med['swd_ours']:5.2f}"
          f" {med['t_ours']:5.1f} | {med['seam_gimp']:9.2f} {med['swd_gimp']:5.2f} {med['t_gimp']:5.2f} |"
          f" {med['seam_blend']:8.2f} {med['swd_blend']:5.2f} {med['t_blend']:5.1f}")
    print(f"\nours / GIMP-style, medians: seam {med['seam_ours'] / med['seam_gimp']:.2f}x, "
          f"SWD ratio {med['swd_ours'] / med['swd_gimp']:.2f}x; ours / tiling and blending: "
          f"seam {med['seam_ours'] / med['seam_blend']:.2f}x, SWD ratio {med['swd_ours'] / med['swd_blend']:.2f}x")
    goal = [r["photo"] for r in rows if r["seam_ours"] <= 1.05 and r["swd_ours"] <= 1.3]
    print(f"goal (seam <= 1.05 and SWD ratio <= 1.3) met on {len(goal)} of {len(rows)}: {', '.join(goal)}")
    if not up_rows:
        return
    print(f"\nTileable upscale x2 ({size // 2} -> {size}): seam of the result tiled; finest-band energy / the photo's"
          " (1 = as sharp as the photo)")
    head = (f"{'photo':22} | {'bicubic seam':>12} {'sharp':>5} | {'ours synth seam':>15} {'sharp':>5} {'s':>5} |"
            f" {'ours real seam':>14} {'sharp':>5} {'s':>5}")
    print(head)
    print("-" * len(head))
    for r in up_rows:
        print(f"{r['photo']:22} | {r['seam_bicubic']:12.2f} {r['sharp_bicubic']:5.2f} | {r['seam_synth']:15.2f}"
              f" {r['sharp_synth']:5.2f} {r['t_synth']:5.1f} | {r['seam_real']:14.2f} {r['sharp_real']:5.2f}"
              f" {r['t_real']:5.1f}")


if __name__ == "__main__":
    main()
