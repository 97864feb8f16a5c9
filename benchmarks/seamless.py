"""Make seamless and tileable upscale on photos: ours (synthesis, wrap cut and the automatic choice
between them) against a GIMP-style blend and tiling and blending.

    .venv/bin/python benchmarks/seamless.py [--size 512] [--pictures docs/photo] > benchmarks/results/seamless.txt

Pictures (--pictures): photo | GIMP-style tiled 2x2 | ours (method "auto", seed 0) tiled 2x2 (tilings
shown at half size), for PICTURES.

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
Synthesis and tiling and blending are random: their seam and SWD are means over SEEDS seeds. The
wrap cut is one layout (a seed only rolls it): seed 0.

Methods: ours, synthesis (core.photo.seamless.make_seamless method "synthesis", lighting equalised); ours,
wrap cut (method "wrap_cut": the photo kept whole, its wrap border cut through an overlap band,
core.photo.wrap_cut; its period is the photo less the bands, so a 512 output shows it scaled by the
"scale" column; "SWD native" measures the period itself, at the photo's scale); ours, auto (the method core.photo.seamless.choose_method picks: its figures are that
method's); GIMP-style (the documented method of GIMP's Tile Seamless, reimplemented: the image
blended with its copy shifted by half a period on both axes, the original weighted by the product of
its distances to the border along each axis -- 1 at the centre, 0 at the edges -- the copy by the
rest; blending all four half-shifted copies scored worse still); tiling and blending
(core.synthesis.tiling_blend, Heitz & Neyret 2018 made periodic: the strongest simple baseline). Medians over
the photos, and the ratios of ours to GIMP-style.

Ours starts from the photo straightened (core.photo.perspective; only scikit-image's brick photo has
a clear perspective among these): the straightened section reports where its lines met, and auto's
figures without straightening and against the straightened photo.

The SWD compares crops of 128 px: it sees texture statistics, not whether cobblestones stay whole or
joints run on. Judge structure by eye in the pictures (docs/photo/README.md).

Auto choice: per photo, the measures choose_method reads (lattice, line_score, element_scale) and its
choice, on the 512 px photo and on a 256 px centre crop (fewer elements), for the benchmark photos
and the other CC0 albedos (crops at CHOICE_CROP).

Upscale (core.photo.upscale), per photo: the photo shrunk 2x, made seamless at half size (method auto),
enlarged 2x by plain periodic bicubic and by ours (synthesised finest octave), and the full photo
analysed at half scale and enlarged 2x by ours reading the real pixels. Reported: seam of the 2x result
tiled, and the finest-band energy (core.photo.upscale.finest_band) relative to the photo's own (1 = as sharp
as the photo; a wrap cut enlarged to fit the size loses some: see its scale).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from blender_texgan.core.maps import GENERATED_CHANNEL_COUNT
from blender_texgan.core.photo.perspective import straighten
from blender_texgan.core.photo.seamless import (
    check_photo,
    choose_method,
    element_scale,
    equalise_lighting,
    line_score,
    luminance,
    make_seamless,
    prepare_photo,
    render,
    seamless_field,
    tile_counts,
    wrap_cut,
    wrap_cut_field,
)
from blender_texgan.core.photo.upscale import box_shrink, finest_band, periodic_resize
from blender_texgan.core.photo.wrap_cut import field as wrap_cut_coords
from blender_texgan.core.photo.wrap_cut import find_wrap_cut, seam_energy
from blender_texgan.core.synthesis.lattice import axis_periods
from blender_texgan.core.synthesis.read_field import SOFTEN, apply_field
from blender_texgan.core.tiling import seam_ratio, tile
from blender_texgan.engine.image_files import read_image
from trainer.metrics import swd_ratio

ROOT = Path(__file__).resolve().parent.parent

SKIMAGE = ROOT / "benchmarks" / "data" / "skimage"
CC0 = ROOT.parent / "shared" / "data" / "cc0"
CC0_CROPS = {"cliff_side": (700, 900), "cobblestone_pavement": (333, 1210), "Rock058": (200, 300),
             "coast_sand_rocks_02": (150, 420), "Bark014": (250, 100)}
CROP, CROPS, METRIC_SEEDS = 128, 32, 4
PICTURES = ("gravel", "Bark014", "cobblestone_pavement", "brick")
CHOICE_CROP = (200, 300)  # the other CC0 albedos: 512 px crops from here for the auto-choice table
SEEDS = 3  # ours and tiling and blending: SWD ratio and seam are means over this many seeds


def photos(size: int, others: bool = False) -> dict[str, np.ndarray]:
    """The benchmark photos, or (others) crops of the CC0 albedos that are not among them."""
    out = {} if others else {n: read_image(SKIMAGE / f"{n}.png") for n in ("gravel", "brick", "grass")}
    if CC0.is_dir():
        for folder in sorted(p for p in CC0.iterdir() if p.is_dir()):
            name = folder.name
            if (name in CC0_CROPS) == others:
                continue
            found = sorted(folder.glob(f"{name}_albedo.*"))
            y, x = CC0_CROPS.get(name, CHOICE_CROP)
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
    """core.synthesis.tiling_blend on a photo: its channels as albedo (grey repeated), flat height and roughness."""
    from blender_texgan.core.synthesis.tiling_blend import analyse, synthesize

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
    method = choose_method(box_shrink(equalise_lighting(photo), 2))
    row = {"photo": name, "method": method, "t_synth": t_synth, "t_real": t_real}
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
    gap = np.full((h, 8, 3), 255, np.uint8)  # every panel is h x h: the photos are square crops
    parts = [panel(photo), gap, panel(box_shrink(tile(gimp), 2)), gap, panel(box_shrink(tile(ours), 2))]
    image = Image.fromarray(np.concatenate(parts, axis=1))
    if all(p.shape[2] == 1 for p in (photo,)):
        image = image.convert("L")
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, optimize=True)


def choice_row(name: str, photo: np.ndarray) -> dict:
    """What choose_method reads and picks, on the lighting-equalised photo and its 256 px centre crop."""
    row = {"photo": name}
    flat = equalise_lighting(check_photo(photo))
    h, w = flat.shape[:2]
    crop = flat[h // 2 - 128:h // 2 + 128, w // 2 - 128:w // 2 + 128]
    for key, image in (("full", flat), ("crop", crop)):
        row[key] = {"lattice": axis_periods(image), "lines": line_score(image), "elements": element_scale(image),
                    "method": choose_method(image)}
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512, help="output side and photo crop side")
    parser.add_argument("--pictures", type=Path, default=None, help="write side-by-side PNGs here")
    args = parser.parse_args()
    rows, up_rows, choices = [], [], []
    for name, photo in photos(args.size).items():
        photo = check_photo(photo)
        synth, t_synth = timed(make_seamless, photo, args.size, seed=0, method="synthesis")
        prepared = prepare_photo(photo)  # more seeds of the same analysis (seed 0's, with it, is timed)
        more = [render(prepared, seamless_field(prepared, args.size, seed), args.size) for seed in range(1, SEEDS)]
        cut_out, t_cut = timed(make_seamless, photo, args.size, seed=0, method="wrap_cut")
        straight, found = straighten(photo, luminance(photo))  # what prepare_photo starts from
        light = prepare_photo(photo, analysed=False)
        cut = wrap_cut(light)
        quilting = find_wrap_cut(light.exemplar, axis_periods(light.exemplar), half=SOFTEN + 1, joints=False)
        counts = tile_counts(cut.period, args.size)
        native = apply_field(light.exemplar, wrap_cut_field(light, args.size, cut=cut), soften=SOFTEN, periodic=False)
        gimp, t_gimp = timed(gimp_style, photo)
        blend, t_blend = timed(tiling_and_blending, photo, args.size)
        blends = [blend] + [tiling_and_blending(photo, args.size, seed) for seed in range(1, SEEDS)]
        choices.append(choice_row(name, photo))
        method = choices[-1]["full"]["method"]
        row = {"photo": name, "channels": photo.shape[2], "seam_photo": seam_ratio(photo),
               "seam_ours": mean(seam_ratio, [synth, *more]), "swd_ours": mean(swd_to_photo, [synth, *more], photo),
               "t_ours": t_synth, "seam_wrap": seam_ratio(cut_out), "swd_wrap": swd_to_photo(cut_out, photo),
               "t_wrap": t_cut, "swd_native": swd_to_photo(np.clip(native, 0, 1), straight), "scale_wrap": args.size / np.sqrt(counts[0] * cut.period[0] * counts[1] * cut.period[1]),
               "cost_wrap": cut.cost, "seams_wrap": seam_energy(light.exemplar, wrap_cut_coords(cut)),
               "seams_quilting": seam_energy(light.exemplar, wrap_cut_coords(quilting)), "seam_gimp": seam_ratio(gimp), "swd_gimp": swd_to_photo(gimp, photo),
               "t_gimp": t_gimp, "seam_blend": mean(seam_ratio, blends),
               "swd_blend": mean(swd_to_photo, blends, photo), "t_blend": t_blend, "method": method}
        key = "ours" if method == "synthesis" else "wrap"
        row.update(seam_auto=row[f"seam_{key}"], swd_auto=row[f"swd_{key}"])
        if found is not None:  # what auto made of it before photos were straightened
            kept = make_seamless(photo, args.size, seed=0, method=method, straighten=False)
            auto = synth if method == "synthesis" else cut_out
            row["straightened"] = (found, seam_ratio(kept), swd_to_photo(kept, photo), swd_to_photo(auto, straight))
        rows.append(row)
        print(f"# {name}: done ({method})", file=sys.stderr, flush=True)
        if args.pictures and name in PICTURES:
            picture(args.pictures / f"{name}.png", photo, gimp, synth if method == "synthesis" else cut_out)
        if name in ("gravel", "grass", "cliff_side", "cobblestone_pavement"):
            up_rows.append(upscale_row(name, photo, args.size))
    choices += [choice_row(name, photo) for name, photo in photos(args.size, others=True).items()]
    report(rows, up_rows, choices, args.size)


def report(rows: list[dict], up_rows: list[dict], choices: list[dict], size: int) -> None:
    print(f"Make seamless, {size}x{size} photos -> {size}x{size} tileable (GIMP-style keeps the photo's size);"
          f" SWD over {CROPS} crops of {CROP} px, mean of {METRIC_SEEDS} draws; synthesis and T&B: seam and SWD"
          f" means over {SEEDS} seeds, time of one output (ours: analysis included). One run, 2-core CPU.\n")
    head = (f"{'photo':22} {'C':>1} {'seam':>6} | {'synth seam':>10} {'SWD':>5} {'s':>5} | {'GIMP seam':>9} {'SWD':>5}"
            f" {'s':>5} | {'T&B seam':>8} {'SWD':>5} {'s':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['photo']:22} {r['channels']:>1} {r['seam_photo']:6.2f} | {r['seam_ours']:10.2f} {r['swd_ours']:5.2f}"
              f" {r['t_ours']:5.1f} | {r['seam_gimp']:9.2f} {r['swd_gimp']:5.2f} {r['t_gimp']:5.2f} |"
              f" {r['seam_blend']:8.2f} {r['swd_blend']:5.2f} {r['t_blend']:5.1f}")
    med = {k: statistics.median(r[k] for r in rows) for k in rows[0]
           if k not in ("photo", "channels", "method", "straightened")}
    print("-" * len(head))
    print(f"{'median':22} {'':1} {med['seam_photo']:6.2f} | {med['seam_ours']:10.2f} {med['swd_ours']:5.2f}"
          f" {med['t_ours']:5.1f} | {med['seam_gimp']:9.2f} {med['swd_gimp']:5.2f} {med['t_gimp']:5.2f} |"
          f" {med['seam_blend']:8.2f} {med['swd_blend']:5.2f} {med['t_blend']:5.1f}")

    print(f"\nWrap cut (the photo kept whole, its wrap border cut) and the auto choice. scale: how much a {size} px"
          " output enlarges the photo (its period fitted to the size); SWD native: the period itself, at the photo's"
          " scale (against the straightened photo where it was straightened); cut cost: squared difference across the"
          " cuts / between neighbouring pixels; seams: core.photo.wrap_cut.seam_energy of the period (every seam pair's"
          " difference, per pixel, over the neighbour energy), with the cut free to follow joints (ours) and held to"
          " one position per step (image quilting's)")
    head = (f"{'photo':22} | {'wrap seam':>9} {'SWD':>5} {'s':>5} {'scale':>5} {'SWD native':>10} {'cut cost':>8}"
            f" {'seams':>6} {'IQ':>6} | {'auto':>9} {'seam':>5} {'SWD':>5}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['photo']:22} | {r['seam_wrap']:9.2f} {r['swd_wrap']:5.2f} {r['t_wrap']:5.2f} {r['scale_wrap']:5.2f}"
              f" {r['swd_native']:10.2f} {r['cost_wrap']:8.2f} {r['seams_wrap']:6.3f} {r['seams_quilting']:6.3f} |"
              f" {r['method']:>9} {r['seam_auto']:5.2f} {r['swd_auto']:5.2f}")
    print("-" * len(head))
    print(f"{'median':22} | {med['seam_wrap']:9.2f} {med['swd_wrap']:5.2f} {med['t_wrap']:5.2f} {med['scale_wrap']:5.2f}"
          f" {med['swd_native']:10.2f} {med['cost_wrap']:8.2f} {med['seams_wrap']:6.3f} {med['seams_quilting']:6.3f} |"
          f" {'':>9} {med['seam_auto']:5.2f} {med['swd_auto']:5.2f}")

    print(f"\nmedians, ours / GIMP-style: synthesis seam {med['seam_ours'] / med['seam_gimp']:.2f}x, SWD ratio "
          f"{med['swd_ours'] / med['swd_gimp']:.2f}x; auto seam {med['seam_auto'] / med['seam_gimp']:.2f}x, SWD ratio "
          f"{med['swd_auto'] / med['swd_gimp']:.2f}x. ours / tiling and blending: synthesis seam "
          f"{med['seam_ours'] / med['seam_blend']:.2f}x, SWD ratio {med['swd_ours'] / med['swd_blend']:.2f}x")
    for key, label in (("ours", "synthesis"), ("auto", "auto")):
        goal = [r["photo"] for r in rows if r[f"seam_{key}"] <= 1.05 and r[f"swd_{key}"] <= 1.3]
        print(f"goal (seam <= 1.05 and SWD ratio <= 1.3), {label}: met on {len(goal)} of {len(rows)}: {', '.join(goal)}")

    print("\nStraightened first (core.photo.perspective: converging lines made parallel; every output above is of the"
          " straightened photo, its SWD against the photo as shot). Auto without straightening, for comparison;"
          " and auto's SWD against the straightened photo, the look it is asked to keep:")
    for r in rows:
        if "straightened" in r:
            found, seam, swd, swd_straight = r["straightened"]
            x, y = found.vanishing_point
            print(f"{r['photo']:22} lines met at ({x:+.0f}, {y:+.0f}) px from the centre, {found.rounds} round(s);"
                  f" kept {found.box[2] - found.box[0]}x{found.box[3] - found.box[1]} px | without: seam {seam:.2f},"
                  f" SWD {swd:.2f} | with: seam {r['seam_auto']:.2f}, SWD {r['swd_auto']:.2f}, against the"
                  f" straightened photo {swd_straight:.2f}")
    if not any("straightened" in r for r in rows):
        print("none")

    print("\nAuto choice (core.photo.seamless.choose_method): wrap cut for a lattice, line_score >= 7 or element_scale"
          " >= 0.3. The 512 px photo | its 256 px centre crop; benchmark photos first, then the other CC0 albedos")
    head = (f"{'photo':22} | {'lattice':>9} {'lines':>7} {'elements':>8} {'choice':>9} | {'lattice':>9} {'lines':>7}"
            f" {'elements':>8} {'choice':>9}")
    print(head)
    print("-" * len(head))
    for i, c in enumerate(choices):
        if i == len(rows):
            print("-" * len(head))
        cells = []
        for key in ("full", "crop"):
            d = c[key]
            lattice = "x".join(map(str, d["lattice"])) if any(d["lattice"]) else "-"
            cells.append(f"{lattice:>9} {d['lines']:7.1f} {d['elements']:8.2f} {d['method']:>9}")
        print(f"{c['photo']:22} | {cells[0]} | {cells[1]}")

    if not up_rows:
        return
    print(f"\nTileable upscale x2 ({size // 2} -> {size}): seam of the result tiled; finest-band energy / the photo's"
          " (1 = as sharp as the photo); method: the auto choice")
    head = (f"{'photo':22} {'method':>9} | {'bicubic seam':>12} {'sharp':>5} | {'ours synth seam':>15} {'sharp':>5} {'s':>5} |"
            f" {'ours real seam':>14} {'sharp':>5} {'s':>5}")
    print(head)
    print("-" * len(head))
    for r in up_rows:
        print(f"{r['photo']:22} {r['method']:>9} | {r['seam_bicubic']:12.2f} {r['sharp_bicubic']:5.2f} |"
              f" {r['seam_synth']:15.2f} {r['sharp_synth']:5.2f} {r['t_synth']:5.1f} | {r['seam_real']:14.2f}"
              f" {r['sharp_real']:5.2f} {r['t_real']:5.1f}")


if __name__ == "__main__":
    main()
