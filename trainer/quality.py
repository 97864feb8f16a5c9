"""The quality gate: a model against held-out real texture and against the tiling-and-blending
baseline, measured in the same run, plus the contact sheet a person looks at before a model ships.

Samples come from the add-on's own generation path (engine.generate), so what is measured is what
a user gets: the net, then the exemplar-guided refinement when the model carries an exemplar.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from blender_texgan.core.maps import complete_map_set, split_channels, stack_channels
from blender_texgan.core.png import write_png
from blender_texgan.core.synthesis import quilt, tiling_blend
from blender_texgan.core.synthesis.lattice import keeps_repeat
from blender_texgan.core.tiling import tile
from blender_texgan.engine.generate import (
    GenerationRequest,
    generate,
    generate_with_field,
    load_runner,
    pick_engine,
    resolve_model,
)

from .data import TrainingData
from .metrics import (
    cut_visibility_metrics,
    evaluate,
    informative_channels,
    meets_bar,
    seam_ratio_batch,
    structure_metrics,
    verbatim_copy_extent,
)

MAX_METRIC_CROP = 256   # coarse SWD needs large crops (whole stones after a 4x shrink)
SHEET_TILE = 192        # side of one picture on a contact sheet


def metric_crop(data: TrainingData, scale: int) -> int:
    """The largest crop (a multiple of the model's scale, at most MAX_METRIC_CROP) that fits every
    held-out and training stack."""
    side = min(min(s.shape[1:]) for s in [*data.heldout, *data.stacks])
    crop = min(MAX_METRIC_CROP, side) // scale * scale
    if crop < 2 * scale:
        raise ValueError(f"the held-out textures ({side} px) are too small to measure this model")
    return crop


def model_samples(model: str | Path, size: int, count: int, seed: int, engine: str = "auto",
                  mode: str = "auto") -> tuple[np.ndarray, list]:
    """`count` generated (5, size, size) stacks from seeds seed, seed+1, ... and their coordinate
    fields (None for neural-only generation)."""
    stacks, fields = [], []
    for i in range(count):
        maps, _, coords = generate_with_field(GenerationRequest(str(model), size, seed + i, engine=engine, mode=mode))
        stacks.append(stack_channels({k: maps[k] for k in ("albedo", "height", "roughness")}))
        fields.append(coords)
    return np.stack(stacks), fields


def baseline_samples(exemplar: np.ndarray, size: int, count: int, seed: int) -> tuple[np.ndarray, list]:
    """Tiling and blending of the (C, H, W) training exemplar: the yardstick for every model."""
    analysis = tiling_blend.analyse(np.moveaxis(exemplar, 0, -1))
    stacks, fields = [], []
    for i in range(count):
        out = tiling_blend.synthesize(analysis, size, size, seed + i)
        stacks.append(np.moveaxis(out, -1, 0))
        fields.append(tiling_blend.source_coordinates(analysis.exemplar_shape, size, size, seed + i))
    return np.stack(stacks).astype(np.float32), fields


MEASURE_SIDE = 512   # samples are generated this large (a whole multiple of the crop) and measured on crops of them
LARGEST_MEASURE_SIDE = 1024   # ... or larger, up to this, until they keep the model's repeats
CROPS_PER_SIDE = (4, 8)   # ... at most this many crops wide (and with the repeats): tiny crops stay cheap


def measure_side(crop: int, repeats: tuple[int, ...] = ()) -> int:
    """The side samples are generated at for `crop` px metric crops: nearer what a user generates
    than a crop-sized tile. A joined field one or two patches wide, wrapping onto itself on every
    side, draws its sources from the exemplar's calmer places (stone_wall at 128 px: luminance spread
    11 % under the photo's; at 512 px 2 %), which the band-pass measures then charge to the synthesis.
    At least MEASURE_SIDE, and large enough to keep the model's `repeats` (core.synthesis.lattice.
    keeps_repeat; at most LARGEST_MEASURE_SIDE): a tile grid dropped for a small output is not what a
    user generates (factory_wall's 132 x 146 px panels at 512 px: cut visibility of height 1.56; kept
    at 1024 px: 1.03)."""
    side = crop * max(1, min(MEASURE_SIDE // crop, CROPS_PER_SIDE[0]))
    largest = min(LARGEST_MEASURE_SIDE, CROPS_PER_SIDE[1] * crop)
    while side + crop <= largest and not all(keeps_repeat(side, p) for p in repeats if p):
        side += crop
    return side


def _runner(model: str | Path, engine: str):
    """The model's Runner as its samples load it (load_runner keeps one model resident: another engine or
    device would read the file and analyse the exemplar again between modes)."""
    return load_runner(resolve_model(str(model)), pick_engine(engine, "auto"), "auto")


def model_repeats(model: str | Path, engine: str = "auto") -> tuple[int, int]:
    """The repeats (rows, columns; 0: none) the model's joined patches keep, from its exemplar."""
    runner = _runner(model, engine)
    return runner.quilt_analysis.periods if runner.exemplar is not None else (0, 0)


def crops_of(images: np.ndarray, crop: int, seed: int) -> np.ndarray:
    """(N, C, S, S) periodic images -> (N, C, crop, crop): one crop of each at a place fixed by `seed`,
    wrapping (the images tile); the images themselves when they are that small."""
    side = images.shape[-1]
    if side == crop:
        return images
    corners = np.random.default_rng([seed, 3]).integers(0, side, (len(images), 2))
    return np.stack([image[:, np.arange(y, y + crop) % side][:, :, np.arange(x, x + crop) % side]
                     for image, (y, x) in zip(images, corners)])


def joined_patch_region(model: str | Path, side: int, engine: str = "auto") -> tuple[int, int]:
    """core.synthesis.quilt.patch_region of the model's joined patches in a side x side field."""
    return quilt.patch_region(_runner(model, engine).quilt_analysis, side, side)


def score(fake: np.ndarray, fields: list, data: TrainingData, crop: int, seed: int, exemplar_shape,
          exemplar: np.ndarray | None = None, patch: tuple[int, int] | None = None) -> dict:
    """evaluate()'s metrics plus the structure-aware ones, the largest verbatim copy and, given the
    (C, h, w) exemplar the fields point into, how visible the patch borders are (cut_albedo,
    cut_height: 1.0 = no more visible than the photo's own lines at those places).

    fake: (N, C, S, S) samples as generated, S a whole multiple of `crop`: the distributions are
    measured on one crop x crop piece of each (crops_of) against as many held-out crops; the wrap
    seam, the borders' visibility and the verbatim copies on the whole samples. patch: joined patches'
    (rows, columns) region (joined_patch_region): verbatim_patches is then the largest copy's side over
    the region's (above 1: two patches continue one copy)."""
    pieces = crops_of(fake, crop, seed)
    heldout, reference = data.metric_crops(crop, len(fake), seed)
    metrics = evaluate(pieces, heldout, reference, seed=seed)
    metrics.update(structure_metrics(pieces, heldout, reference, seed=seed))
    if pieces is not fake:   # a piece's edges are no wrap: the seam is the whole sample's
        metrics["seam_ratio"] = seam_ratio_batch(fake[:, informative_channels(heldout, reference)])
    if exemplar is not None:
        metrics.update(cut_visibility_metrics(fake, fields, exemplar))
    extents = [verbatim_copy_extent(f, exemplar_shape) for f in fields if f is not None]
    if extents:
        metrics["verbatim_extent"] = float(max(extents))
        metrics["verbatim_fraction"] = float(max(extents) / min(exemplar_shape))
        if patch is not None:
            metrics["verbatim_patches"] = float(max(extents) / np.sqrt(patch[0] * patch[1]))
    return metrics


QUALITY_COUNT = 16  # samples per mode at export
MODES = ("neural", "random", "refined")


def compare_modes(model: str | Path, data: TrainingData, scale: int, count: int, seed: int,
                  modes: tuple[str, ...] = MODES) -> dict[str, dict]:
    """Metrics of each generation mode and of tiling and blending, on the same held-out crops
    (the ablation: is the net earning its place?), the samples generated measure_side(crop) large.
    Keys: the modes, "baseline", plus "crop" and "side"."""
    crop = metric_crop(data, scale)
    side = measure_side(crop, model_repeats(model))
    exemplar = data.stacks[0]
    shape = exemplar.shape[1:]
    out: dict = {"crop": crop, "side": side}
    for mode in modes:   # the net alone has no patches to clip: its crop-sized tiles are what a user gets
        fake, fields = model_samples(model, crop if mode == "neural" else side, count, seed, mode=mode)
        out[mode] = score(fake, fields, data, crop, seed, shape, exemplar if mode != "neural" else None,
                          joined_patch_region(model, side) if mode == "random" else None)
    base, base_fields = baseline_samples(exemplar, side, count, seed)
    out["baseline"] = score(base, base_fields, data, crop, seed, shape)
    return out


QUALITY_SEEDS = (12345, 13345)   # the export measures at each (distinct samples and held-out crops) and averages


def compare_modes_over(model: str | Path, data: TrainingData, scale: int, count: int, seeds: tuple[int, ...],
                       modes: tuple[str, ...] = MODES) -> dict[str, dict]:
    """compare_modes at each seed, every mode's metrics averaged over them (average_metrics): one set
    of held-out crops decides too little (a joined model's band-pass albedo measured 0.37-1.64 between
    four seeds, tiling and blending's 1.10-1.60, and the gate's choice with them)."""
    runs = [compare_modes(model, data, scale, count, seed, modes) for seed in seeds]
    out = {key: average_metrics([run[key] for run in runs]) for key in runs[0] if isinstance(runs[0][key], dict)}
    out.update(crop=runs[0]["crop"], side=runs[0]["side"])
    return out


def average_metrics(measured: list[dict]) -> dict:
    """Metrics measured at several seeds -> one dict: the mean of each number present at every seed (a
    ratio too: the mean ratio), the largest verbatim copy over all of them, and "seeds": how many."""
    keys = [k for k, v in measured[0].items()
            if isinstance(v, (int, float)) and all(isinstance(m.get(k), (int, float)) for m in measured)]
    out = {k: float(max(m[k] for m in measured) if k.startswith("verbatim_") else np.mean([m[k] for m in measured]))
           for k in keys}
    out["seeds"] = len(measured)
    return out


def compare_with_baseline(model: str | Path, data: TrainingData, scale: int, count: int, seed: int,
                          mode: str = "auto") -> dict[str, dict]:
    """{"model": metrics, "baseline": metrics, "crop": side}: one mode beside tiling and blending."""
    result = compare_modes(model, data, scale, count, seed, modes=(mode,))
    return {"model": result[mode], "baseline": result["baseline"], "crop": result["crop"]}


def floored(metrics: dict, key: str) -> float:
    """A structure metric, raised to its real-vs-real value: two halves of the exemplar differ that
    much, so below it a difference between two methods is noise, not quality."""
    return max(metrics[key], metrics.get(f"{key}_real", 0.0))


def gate_score(metrics: dict, baseline: dict) -> float:
    """Mean ratio to the baseline over the gate's structure metrics, each floored at real-vs-real
    (lower is better; 1 is the baseline's level)."""
    ratios = [floored(metrics, k) / max(floored(baseline, k), 1e-9)
              for k in GATE_METRICS if k in metrics and k in baseline]
    return float(np.mean(ratios)) if ratios else float("inf")


def choose_mode(results: dict) -> str:
    """The model's default detail mode. A refinement mode ("refined": the net's layout, or "random":
    joined patches) whose patch borders show no more than the photo's own lines (cut visibility of
    albedo and height at most CUT_VISIBILITY_BAR), that meets the library's bar (fine SWD, seam,
    diversity) and is within the gate on every
    structure metric, the best such on the gate; else tiling and blending ("blend", the baseline
    itself) if it meets the bar; else the best on the gate of the refinement modes whose cuts hide
    and that are within the gate on every structure metric; else tiling and blending, which is the
    structure measures' own yardstick (a mode that scores best on average may still lose on one)."""
    def within(mode: str) -> bool:
        hidden = all(results[mode].get(k, 0.0) <= CUT_VISIBILITY_BAR for k in ("cut_albedo", "cut_height"))
        return hidden and meets_bar(results[mode]) and all(beats_baseline({"model": results[mode],
                                                                           "baseline": results["baseline"]}).values())

    def fair(mode: str) -> bool:   # the structure and cut bars against the baseline, whatever the library's bar
        hidden = all(results[mode].get(k, 0.0) <= CUT_VISIBILITY_BAR for k in ("cut_albedo", "cut_height"))
        return hidden and all(beats_baseline({"model": results[mode], "baseline": results["baseline"]}).values())

    score = {m: gate_score(results[m], results["baseline"]) for m in ("refined", "random")}
    good = [m for m in score if within(m)]
    if good:
        return min(good, key=score.get)
    if meets_bar(results["baseline"]):
        return "blend"
    good = [m for m in score if fair(m)]
    return min(good, key=score.get) if good else "blend"


CUT_VISIBILITY_BAR = 1.2  # borders may show at most this much more than the photo's own lines there
# Each structure metric of the gate: the model may be at most this much worse than the baseline.
BASELINE_MARGIN = 1.10
GATE_METRICS = ("bandpass_albedo", "bandpass_height", "coarse_swd")


def beats_baseline(result: dict[str, dict]) -> dict[str, bool]:
    """Per gate metric present in both: is the model within BASELINE_MARGIN of the baseline? (Both
    floored at real-vs-real, see floored.)"""
    model, base = result["model"], result["baseline"]
    return {k: bool(floored(model, k) <= BASELINE_MARGIN * floored(base, k))
            for k in GATE_METRICS if k in model and k in base}


# ---------------------------------------------------------------- contact sheet

def _crop(image: np.ndarray, side: int) -> np.ndarray:
    """The top-left side x side pixels at 1:1 (wrapping round a smaller image), so that every column
    of a sheet shows the same scale."""
    h, w = image.shape[:2]
    return image[np.arange(side) % h][:, np.arange(side) % w]


def _half(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    return image[:h, :w].reshape(h // 2, 2, w // 2, 2, -1).mean(axis=(1, 3))


CLOSEUP_CROP, CLOSEUP_SIZE = 512, 1024   # 1:1 crops of a generation this large


def closeup_columns(model: str | Path, exemplar: np.ndarray, normal_strength: float, seed: int = 0,
                    size: int = CLOSEUP_SIZE) -> list[tuple[np.ndarray, np.ndarray]]:
    """(albedo, normal) of: the (h, w, 5) exemplar | the model's default mode at `size` | tiling and
    blending of the exemplar at `size`, for closeup_rows."""
    def maps_of(stack: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        maps = complete_map_set(split_channels(np.moveaxis(stack, -1, 0)), normal_strength)
        return maps["albedo"], maps["normal"]

    ours, _ = generate(GenerationRequest(str(model), size, seed, engine="numpy"))
    blend = tiling_blend.synthesize(tiling_blend.analyse(exemplar), size, size, seed)
    return [maps_of(exemplar), (ours["albedo"], ours["normal"]), maps_of(blend)]


def closeup_rows(columns: list[tuple[np.ndarray, np.ndarray]], crop: int = CLOSEUP_CROP) -> np.ndarray:
    """Two rows (albedo, normal) of crop x crop pieces at 1:1, no resampling: the first column's
    top-left corner (the exemplar), every other one's centre (away from any wrap)."""
    def piece(image: np.ndarray, centre: bool) -> np.ndarray:
        h, w = image.shape[:2]
        y0, x0 = (max(0, (h - crop) // 2), max(0, (w - crop) // 2)) if centre else (0, 0)
        part = image[y0:y0 + crop, x0:x0 + crop]
        out = np.ones((crop, crop, 3), np.float32)
        out[:part.shape[0], :part.shape[1]] = part
        return out

    gap = np.ones((crop, 8, 3), np.float32)
    lines = []
    for r in range(2):
        cells = [c for i, column in enumerate(columns) for c in (piece(column[r], i > 0), gap)][:-1]
        lines.append(np.concatenate(cells, axis=1))
    return np.concatenate([lines[0], np.ones((8, lines[0].shape[1], 3), np.float32), lines[1]], axis=0)


def _stack_padded(parts: list[np.ndarray]) -> np.ndarray:
    """Pictures one above the other, each padded white to the widest, 8 px apart."""
    width = max(p.shape[1] for p in parts)
    padded = [np.pad(p, ((0, 8), (0, width - p.shape[1]), (0, 0)), constant_values=1.0) for p in parts]
    return np.concatenate(padded, axis=0)[:-8]


def contact_sheet(path: str | Path, exemplar: np.ndarray, samples: np.ndarray, normal_strength: float,
                  baseline: np.ndarray | None = None, side: int = SHEET_TILE,
                  closeup: np.ndarray | None = None) -> Path:
    """exemplar | 4 samples | one sample tiled 2x2 (at half scale) [| baseline], one row per map;
    (C, H, W) stacks. Every other column is shown at 1:1, so sizes of stones and planks compare.
    closeup: closeup_rows' picture (512 px crops at 1:1, albedo and normal), added below."""
    def rows(stack: np.ndarray) -> dict[str, np.ndarray]:
        maps = complete_map_set(split_channels(stack), normal_strength)
        grey = lambda m: np.repeat(maps[m], 3, axis=-1)
        return {"albedo": maps["albedo"], "normal": maps["normal"], "height": grey("height"),
                "roughness": grey("roughness")}

    columns = [rows(exemplar)] + [rows(s) for s in samples[:4]]
    tiled = {k: _half(tile(v)) for k, v in rows(samples[0]).items()}
    columns.append(tiled)
    if baseline is not None:
        columns.append(rows(baseline))
    side = min(side, samples.shape[-1])
    gap = np.ones((side, 4, 3), np.float32)
    lines = []
    for name in ("albedo", "normal", "height", "roughness"):
        cells = []
        for col in columns:
            cells += [_crop(col[name], side), gap]
        lines.append(np.concatenate(cells[:-1], axis=1))
        lines.append(np.ones((4, lines[-1].shape[1], 3), np.float32))
    sheet = np.concatenate(lines[:-1], axis=0)
    return write_png(path, sheet if closeup is None else _stack_padded([sheet, closeup]))
