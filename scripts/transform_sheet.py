"""The material-translation contact sheet: docs/transform/<name>.jpg.

    python -m scripts.transform_sheet --forward blender_texgan/models/translators/clean_to_rusty_metal.safetensors \
        --backward blender_texgan/models/translators/rusty_to_clean_metal.safetensors \
        --data-a ../shared/data/cc0/metal_plate_02 ../shared/data/cc0/Metal055A --model rusty_metal \
        --out docs/transform/clean_to_rusty_metal.jpg

Rows: two held-out-free crops of every A set at the translator's working scale, translated A -> B
and back (B -> A); last row: a material made by a bundled generator (--model), translated the
other way (B -> A) and back. Columns: albedo of input | translated | round trip, then roughness
and normal (derived from the height) of input | translated. Prints the per-row figures.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from blender_texgan.core.maps import complete_map_set, split_channels
from blender_texgan.core.modelfile import read_model_file
from blender_texgan.engine.generate import GenerationRequest, generate
from blender_texgan.engine.material_translation import MaterialTranslator, maps_stack
from scripts.pictures import write_jpeg
from trainer.data import shrink
from trainer.folder import load_folder

GAP = 4


def _cells(stack: np.ndarray, out: np.ndarray, back: np.ndarray, relief: float) -> list[np.ndarray]:
    maps = [complete_map_set(split_channels(np.moveaxis(s, -1, 0)), relief) for s in (stack, out, back)]
    grey = lambda a: np.repeat(a, 3, axis=-1)
    return [maps[0]["albedo"], maps[1]["albedo"], maps[2]["albedo"], None,
            grey(maps[0]["roughness"]), grey(maps[1]["roughness"]), None, maps[0]["normal"], maps[1]["normal"]]


def _row(cells: list) -> np.ndarray:
    side = next(c for c in cells if c is not None).shape[0]
    gap = np.ones((side, GAP, 3), np.float32)
    return np.concatenate([gap if c is None else c for c in cells], axis=1)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--forward", required=True, help="A -> B translator file")
    p.add_argument("--backward", required=True, help="B -> A translator file")
    p.add_argument("--data-a", nargs="+", required=True, help="folders of material A")
    p.add_argument("--model", default="rusty_metal", help="bundled generator for the last row (material B)")
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args(argv)
    fwd = MaterialTranslator(read_model_file(args.forward), engine="numpy")
    bwd = MaterialTranslator(read_model_file(args.backward), engine="numpy")
    scale = int(fwd.block.get("working_scale", 1))
    relief = float(bwd.block["normal_strength"])  # A's relief at the working scale
    rows = []
    for folder in args.data_a:
        data = load_folder(folder)
        for name, stack in zip(data.names, data.stacks):
            small = np.moveaxis(shrink(stack, scale), 0, -1)
            for y, x in ((0, 0), (small.shape[0] // 2 - args.crop // 2, small.shape[1] - args.crop)):
                crop = np.ascontiguousarray(small[y:y + args.crop, x:x + args.crop])
                out = fwd(crop)
                back = bwd(out)
                print(f"{name} at ({y}, {x}): change {np.abs(out - crop).mean():.4f}, "
                      f"round trip {np.abs(back - crop).mean():.4f}")
                rows.append(_row(_cells(crop, out, back, relief)))
    maps, manifest = generate(GenerationRequest(args.model, args.crop, seed=1, engine="numpy"))
    stack = maps_stack(maps)
    out = bwd(stack)
    back = fwd(out)
    print(f"{args.model} (generated, B -> A -> B): change {np.abs(out - stack).mean():.4f}, "
          f"round trip {np.abs(back - stack).mean():.4f}")
    rows.append(_row(_cells(stack, out, back, float(fwd.block["normal_strength"]))))
    gap = np.ones((GAP, rows[0].shape[1], 3), np.float32)
    sheet = np.concatenate([r for row in rows for r in (row, gap)][:-1], axis=0)
    print(write_jpeg(args.out, sheet))


if __name__ == "__main__":
    main()
