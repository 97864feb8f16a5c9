"""Up close, at 1:1: pictures and measures of every bundled model's exemplar synthesis.

* docs/closeup/<model>.jpg -- 512 px crops without resampling, rows albedo and normal:
  exemplar | ours (the model's default mode, 1024 px generated, centre crop) | tiling and blending;
  for the models whose default joins patches, the previous synthesis (core.synthesis.refine from a random
  start, as Exemplar Only made it before the joins) as a fourth column.
* benchmarks/results/closeup.txt -- per model, on its CC0 set's held-out crops, in one run: the joined
  patches ("random" mode), tiling and blending of the same photo, and the previous synthesis: band-pass
  marginals and coarse SWD of albedo and height (ratios to photo vs photo), cut visibility of albedo and
  height (1.0: a border shows no more than the photo's own lines at those places), and whether the bars are met.
* --write-library: store each model's element size and repeats (so the first generation skips the
  analysis), and the joined patches' and tiling and blending's measures of this run in its manifest's
  quality block (and on its card, for the default mode).

    .venv/bin/python scripts/closeup.py [--write-library] [--count N] [--seeds S ...] [MODEL ...]
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

from blender_texgan.core.latent import grid_offset
from blender_texgan.core.maps import complete_map_set, split_channels
from blender_texgan.core.modelfile import read_model_file, write_model_file
from blender_texgan.core.synthesis import exemplar_analysis, quilt, read_field, refine
from blender_texgan.engine.generate import (
    FIELD_ROLL,
    PRESERVE_CONTRAST,
    REFINE_SOFTEN,
    bundled_models,
)
from trainer.data import folder_data
from trainer.quality import (
    BASELINE_MARGIN,
    CLOSEUP_SIZE,
    CUT_VISIBILITY_BAR,
    QUALITY_COUNT,
    QUALITY_SEEDS,
    average_metrics,
    baseline_samples,
    closeup_columns,
    closeup_rows,
    joined_patch_region,
    measure_side,
    metric_crop,
    model_repeats,
    model_samples,
    score,
)

ROOT = Path(__file__).resolve().parent.parent
PICTURES = ROOT / "docs" / "closeup"
RESULTS = ROOT / "benchmarks" / "results" / "closeup.txt"
PHOTO_LEVEL = 1.0   # within BASELINE_MARGIN of tiling and blending, or at the photo's own level
BARS = ("bandpass_ratio_albedo", "bandpass_ratio_height", "coarse_swd_ratio")


def old_field(exemplar: np.ndarray, analysis, size: int, seed: int) -> np.ndarray:
    """Exemplar Only before the joins: core.synthesis.refine from a random start, rolled as it was."""
    coords = refine.synthesize(analysis, size, size, seed)
    return np.roll(coords, grid_offset(seed, min(FIELD_ROLL, size)), axis=(0, 1))


def previous_stack(exemplar: np.ndarray, coords: np.ndarray) -> np.ndarray:
    """The maps read through a previous-synthesis field as the engine read them (contrast-preserving
    blend across patch borders, copied height)."""
    return read_field.apply_field(exemplar, coords, soften=REFINE_SOFTEN, periodic=False, preserve=PRESERVE_CONTRAST)


def pictures(name: str, old_analysis) -> None:
    model = read_model_file(bundled_models()[name])
    ex, strength = model.exemplar, float(model.manifest["exemplar"]["normal_strength"])
    columns = closeup_columns(bundled_models()[name], ex, strength)
    if old_analysis is not None:
        maps = complete_map_set(split_channels(np.moveaxis(
            previous_stack(ex, old_field(ex, old_analysis, CLOSEUP_SIZE, 0)), -1, 0)), strength)
        columns.append((maps["albedo"], maps["normal"]))
    PICTURES.mkdir(parents=True, exist_ok=True)
    sheet = np.rint(np.clip(closeup_rows(columns), 0, 1) * 255).astype(np.uint8)
    Image.fromarray(sheet).save(PICTURES / f"{name}.jpg", quality=88)


def training_folder(manifest: dict) -> tuple[Path, int] | None:
    training = manifest.get("training") or {}
    found = re.search(r"folder (\S+)", str(training.get("data", "")))
    if not found:
        return None
    path = (ROOT / found.group(1)).resolve()
    return (path, int(training.get("downsample", 1))) if path.is_dir() else None


def measure(name: str, count: int, seeds: tuple[int, ...], old_analysis) -> dict:
    """Joined patches, tiling and blending and the previous synthesis on the same held-out crops, as
    the export measures a model (trainer.quality.compare_modes_over): at each seed, averaged."""
    model = read_model_file(bundled_models()[name])
    source = training_folder(model.manifest)
    if source is None:
        return {}
    scale = int(model.manifest["exemplar"].get("guide_scale", 1))
    data = folder_data(source[0], 64, max(1, source[1] // scale))
    crop_side = metric_crop(data, 1)
    side = measure_side(crop_side, model_repeats(name, "numpy"))   # generated as large as the export makes them
    shape = data.stacks[0].shape[1:]
    runs = []
    for seed in seeds:
        out = {}
        fake, fields = model_samples(name, side, count, seed, engine="numpy", mode="random")
        out["joined"] = score(fake, fields, data, crop_side, seed, shape, data.stacks[0], joined_patch_region(name, side, "numpy"))
        base, base_fields = baseline_samples(data.stacks[0], side, count, seed)
        out["blend"] = score(base, base_fields, data, crop_side, seed, shape)
        if old_analysis is not None:
            olds = [old_field(model.exemplar, old_analysis, side, seed + i) for i in range(count)]
            stacks = np.stack([np.moveaxis(previous_stack(model.exemplar, f), -1, 0) for f in olds])
            out["previous"] = score(stacks, olds, data, crop_side, seed, shape, data.stacks[0])
        runs.append(out)
    result = {part: average_metrics([run[part] for run in runs]) for part in runs[0]}
    result.update(crop=crop_side, side=side)
    return result


def bars(result: dict) -> dict[str, bool]:
    joined, blend = result["joined"], result["blend"]
    ok = {k: joined[k] <= max(BASELINE_MARGIN * blend[k], PHOTO_LEVEL) for k in BARS if k in joined and k in blend}
    ok.update({k: joined[k] <= CUT_VISIBILITY_BAR for k in ("cut_albedo", "cut_height") if k in joined})
    return ok


def line(name: str, result: dict) -> str:
    def cell(part: str, key: str) -> str:
        value = result.get(part, {}).get(key)
        return f"{value:6.2f}" if isinstance(value, float) else "     -"
    keys = BARS + ("cut_albedo", "cut_height")
    parts = [f"{name:15s}"]
    for part in ("joined", "blend", "previous"):
        parts.append(" ".join(cell(part, k) for k in keys))
    met = bars(result)
    parts.append("all met" if all(met.values()) else "missed: " + ", ".join(k for k, v in met.items() if not v))
    return " | ".join(parts)


def store(name: str, result: dict) -> None:
    """Element size and repeats (the first generation then skips measuring them) and the measures
    of the joined patches, in the bundled model file."""
    path = bundled_models()[name]
    model = read_model_file(path)
    manifest = json.loads(json.dumps(model.manifest))
    manifest["exemplar"].update(quilt.measure(model.exemplar))
    if result:  # the joined patches and tiling and blending as measured together in this run
        quality = manifest.setdefault("quality", {})
        quality.update(random=result["joined"], baseline=result["blend"])
        shown = {"random": "random", "blend": "baseline"}.get(manifest["exemplar"].get("default_mode"))
        if shown is not None:  # the card shows the default mode's measures
            manifest["metrics"] = {**quality[shown], "neural": manifest.get("metrics", {}).get("neural", {})}
    write_model_file(path, model.tensors, manifest, exemplar=model.exemplar)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="*")
    parser.add_argument("--count", type=int, default=QUALITY_COUNT, help="samples per method and seed")
    parser.add_argument("--seeds", type=int, nargs="+", default=list(QUALITY_SEEDS),
                        help="measured at each, averaged (as trainer export)")
    parser.add_argument("--write-library", action="store_true")
    parser.add_argument("--no-pictures", action="store_true")
    args = parser.parse_args(argv)
    names = args.models or sorted(bundled_models())
    header = ("model           | joined: bp-alb bp-hgt coarse cut-alb cut-hgt | tiling and blending (same) "
              "| previous synthesis (same) | bars")
    report = [f"# scripts/closeup.py, {time.strftime('%Y-%m-%d')}, {args.count} samples per method at seeds "
              f"{' '.join(map(str, args.seeds))} (averaged), generated at 512 px and measured on crops, held-out crops "
              "of each model's CC0 set; ratios to photo vs photo (lower is better; cut visibility 1.0 = as visible "
              "as the photo's own lines at those places)", header]
    for name in names:
        model = read_model_file(bundled_models()[name])
        joins = model.manifest["exemplar"].get("default_mode") == "random"
        old_analysis = exemplar_analysis.analyse(model.exemplar, periodic=False) if joins else None
        result = measure(name, args.count, tuple(args.seeds), old_analysis)
        if not args.no_pictures:
            pictures(name, old_analysis)
        if result:
            report.append(line(name, result))
            print(report[-1], flush=True)
        if args.write_library:
            store(name, result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    if not args.models:
        RESULTS.write_text("\n".join(report) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
