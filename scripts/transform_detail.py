"""The detail step of material translation, measured and shown: docs/transform/<name>_detail.jpg.

    python -m scripts.transform_detail --translator blender_texgan/models/translators/clean_to_rusty_metal.safetensors \
        --data-a ../shared/data/cc0/metal_plate_02 ../shared/data/cc0/Metal055A \
        --data-b ../shared/data/cc0/rusty_metal_05 --model concrete_wall \
        --out docs/transform/clean_to_rusty_metal_detail.jpg

Three outputs per input, all exactly periodic and of the input's size: (a) the translation alone;
(b) the translation as the guide of coordinate synthesis against the translator's exemplar (the
detail step); (c) the yardstick: the exemplar re-synthesised with no guide, which keeps nothing of
the input. Inputs: held-out crops (the bottom quarter no translator saw) of every A set at the
working scale, and a material of a bundled generator (--model). Figures per input and output:
SWD ratio to held-out real B crops (trainer.metrics.swd_ratio: about 1 is as close as real
training-region crops are) and the layout kept: the correlation of output and input luminance and
height averaged over LAYOUT_CELL-pixel cells (a translation may invert luminance: the sign counts
too), and of output and translation (what the detail step was asked to follow). The sheet: per set one larger crop (for the eye),
columns albedo input | translated | + detail | baseline, then the normals alike.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from blender_texgan.core.maps import complete_map_set, split_channels
from blender_texgan.core.modelfile import read_model_file
from blender_texgan.engine.generate import GenerationRequest, generate
from blender_texgan.engine.material_translation import MaterialTranslator, exemplar_field, maps_stack, transform_stack
from scripts.pictures import write_jpeg
from trainer.data import HELDOUT_FRACTION, CropSampler, shrink
from trainer.folder import load_folder
from trainer.metrics import holdout_split, swd_ratio

GAP = 4
LAYOUT_CELL = 8   # layout: means over cells of this side (the coarse arrangement, not the detail)
METHODS = ("translated", "detail", "baseline")
LUMA = np.array([0.2126, 0.7152, 0.0722], np.float32)


def outputs(net: MaterialTranslator, stack: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """(H, W, 5) input -> {method: (H, W, 5) output}, each at strength 1."""
    return {"translated": transform_stack(net, stack, detail=False),
            "detail": transform_stack(net, stack, detail=True, seed=seed),
            "baseline": exemplar_field(net, *stack.shape[:2], seed, guide=None)[0]}


def _cells(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[0] // LAYOUT_CELL, image.shape[1] // LAYOUT_CELL
    return image[:h * LAYOUT_CELL, :w * LAYOUT_CELL].reshape(h, LAYOUT_CELL, w, LAYOUT_CELL).mean(axis=(1, 3))


def layout_kept(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(luminance, height) correlation of (H, W, 5) output y with input x over LAYOUT_CELL cells."""
    def corr(a, b):
        a, b = _cells(a).ravel() - _cells(a).mean(), _cells(b).ravel() - _cells(b).mean()
        den = float(np.sqrt((a * a).sum() * (b * b).sum()))
        return float((a * b).sum() / den) if den > 0 else 0.0
    return corr(x[..., :3] @ LUMA, y[..., :3] @ LUMA), corr(x[..., 3], y[..., 3])


def as_crops(images: np.ndarray, crop: int) -> np.ndarray:
    """(N, H, W, 5) -> (N * H/crop * W/crop, 5, crop, crop): the images cut into the reference's crop size."""
    n, h, w, c = images.shape
    tiles = images.reshape(n, h // crop, crop, w // crop, crop, c).transpose(0, 1, 3, 5, 2, 4)
    return np.ascontiguousarray(tiles.reshape(-1, c, crop, crop))


def measure(net: MaterialTranslator, inputs: np.ndarray, held: np.ndarray, ref: np.ndarray) -> dict:
    """(N, H, W, 5) inputs -> {method: figures}; SWD over the outputs cut into the reference's crops."""
    outs = {m: [] for m in METHODS}
    for i, x in enumerate(inputs):
        for m, y in outputs(net, x, seed=i).items():
            outs[m].append(y)
    crop = held.shape[-1]
    figures = {"input": {"swd_ratio": swd_ratio(as_crops(inputs, crop), held, ref)}}
    for m in METHODS:
        ys = np.stack(outs[m])
        kept = np.array([layout_kept(x, y) for x, y in zip(inputs, ys)])
        follows = np.array([layout_kept(t, y) for t, y in zip(outs["translated"], ys)])
        figures[m] = {"swd_ratio": swd_ratio(as_crops(ys, crop), held, ref),
                      "layout_luma": float(kept[:, 0].mean()), "layout_height": float(kept[:, 1].mean()),
                      "follows_luma": float(follows[:, 0].mean()), "follows_height": float(follows[:, 1].mean())}
    return figures


def _domain(folders: list[str], scale: int) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Every set of the folders at the working scale: (training regions, held-out regions, names)."""
    train, held, names = [], [], []
    for folder in folders:
        data = load_folder(folder)
        for name, stack in zip(data.names, data.stacks):
            region, rest = holdout_split(shrink(stack, scale), HELDOUT_FRACTION)
            train.append(np.ascontiguousarray(region))
            held.append(np.ascontiguousarray(rest))
            names.append(name)
    return train, held, names


def _sheet_row(net: MaterialTranslator, stack: np.ndarray, seed: int) -> np.ndarray:
    relief = float(net.block["normal_strength"])
    stacks = [stack, *outputs(net, stack, seed).values()]
    maps = [complete_map_set(split_channels(np.moveaxis(s, -1, 0)), relief) for s in stacks]
    side = stack.shape[0]
    gap = np.ones((side, GAP, 3), np.float32)
    cells = [m["albedo"] for m in maps] + [gap, gap] + [m["normal"] for m in maps]
    return np.concatenate([c if c is gap else np.concatenate([c, gap], axis=1) for c in cells], axis=1)


def _table(rows: dict[str, dict]) -> str:
    lines = ["| input | input SWD ratio | " + " | ".join(f"{m} SWD ratio" for m in METHODS) + " | "
             + " | ".join(f"{m} layout vs input (luma / height)" for m in METHODS) + " | "
             + " | ".join(f"{m} vs translation" for m in METHODS[1:]) + " |",
             "|---" * (2 + 3 * len(METHODS) - 1) + "|"]
    pair = lambda f, key: f"{f[key + '_luma']:.2f} / {f[key + '_height']:.2f}"  # noqa: E731
    for name, f in rows.items():
        lines.append(f"| {name} | {f['input']['swd_ratio']:.2f} | "
                     + " | ".join(f"{f[m]['swd_ratio']:.2f}" for m in METHODS) + " | "
                     + " | ".join(pair(f[m], "layout") for m in METHODS) + " | "
                     + " | ".join(pair(f[m], "follows") for m in METHODS[1:]) + " |")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--translator", required=True, help="A -> B translator file carrying B's exemplar")
    p.add_argument("--data-a", nargs="+", required=True, help="folders of material A")
    p.add_argument("--data-b", nargs="+", required=True, help="folders of material B (the real reference)")
    p.add_argument("--model", default="concrete_wall", help="bundled generator for the generated input")
    p.add_argument("--crop", type=int, default=64, help="measured crops' side (held-out regions bound it)")
    p.add_argument("--count", type=int, default=16, help="measured crops per set")
    p.add_argument("--sheet-crop", type=int, default=128)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    net = MaterialTranslator(read_model_file(args.translator), engine="numpy")
    scale = int(net.block.get("working_scale", 1))
    b_train, b_held, _ = _domain(args.data_b, scale)
    held = CropSampler(b_held, args.crop, seed=[0, 12], wrap=[False] * len(b_held)).sample(args.count)
    ref = CropSampler(b_train, args.crop, seed=[0, 13], wrap=[False] * len(b_train)).sample(args.count)
    a_train, a_held, a_names = _domain(args.data_a, scale)
    rows, sheet = {}, []
    for i, name in enumerate(a_names):
        crops = CropSampler([a_held[i]], args.crop, seed=[0, 11, i], wrap=[False]).sample(args.count)
        rows[f"{name} (held-out crops)"] = measure(net, np.moveaxis(crops, 1, -1), held, ref)
        full = np.concatenate([a_train[i], a_held[i]], axis=1)
        sheet.append(_sheet_row(net, np.ascontiguousarray(np.moveaxis(full, 0, -1)[:args.sheet_crop,
                                                                                     :args.sheet_crop]), seed=i))
    side = args.crop * int(np.sqrt(args.count))  # as many crops' worth of pixels as per set
    generated = maps_stack(generate(GenerationRequest(args.model, side, seed=1, engine="numpy"))[0])
    rows[f"{args.model} (generated, {side} px)"] = measure(net, generated[None], held, ref)
    sheet_material = maps_stack(generate(GenerationRequest(args.model, args.sheet_crop, seed=1, engine="numpy"))[0])
    sheet.append(_sheet_row(net, sheet_material, seed=1))
    print(_table(rows))
    gap = np.ones((GAP, sheet[0].shape[1], 3), np.float32)
    print(write_jpeg(args.out, np.concatenate([r for row in sheet for r in (row, gap)][:-1], axis=0)))


if __name__ == "__main__":
    main()
