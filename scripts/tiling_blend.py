"""The tiling-and-blending baseline (Heitz & Neyret 2018, made periodic) over a folder of PBR sets.

Every texture set in --data (loaded like the trainer loads it, trainer.folder.load_folder) is
analysed once and synthesised at --size x --size with --seed; the result tiles exactly. Writes
<set>_tb_s<seed>_{albedo,normal,roughness,height}.png into --out (height 16-bit, the rest 8-bit);
the normal map comes from the height with the strength the trainer exports for that folder.

    .venv/bin/python scripts/tiling_blend.py --data ../shared/data/cc0 --size 1024 --seed 0 --out out/tb
"""
from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from blender_texgan.core.maps import complete_map_set, split_channels
from blender_texgan.core.png import write_png
from blender_texgan.core.synthesis.tiling_blend import analyse, synthesize

MAX_SIZE = 8192


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Command-line options, with range checks (argparse exits with status 2 on bad ones)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="folder of PBR texture sets (or one image)")
    parser.add_argument("--size", type=int, default=1024, help="output side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="random seed of the vertex offsets")
    parser.add_argument("--out", type=Path, required=True, help="folder to write the PNG maps into")
    parser.add_argument("--cell", type=float, default=None,
                        help="triangle width in pixels (default: a quarter of the exemplar's smaller side)")
    args = parser.parse_args(argv)
    if not 8 <= args.size <= MAX_SIZE:
        parser.error(f"--size must be between 8 and {MAX_SIZE}")
    if args.cell is not None and not args.cell >= 2:
        parser.error("--cell must be at least 2 pixels")
    return args


def export_strength(loaded) -> float:
    """The normal strength the trainer exports for this folder (trainer.data.folder_data, no shrink)."""
    from trainer.procedural import NORMAL_STRENGTH
    return loaded.median_normal_strength or NORMAL_STRENGTH


def run(args: argparse.Namespace) -> list[Path]:
    """Synthesise every set of args.data and write its maps; returns the files written."""
    from trainer.folder import load_folder

    loaded = load_folder(args.data)
    strength = export_strength(loaded)
    args.out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, stack in zip(loaded.names, loaded.stacks):
        started = time.perf_counter()
        out = synthesize(analyse(np.moveaxis(stack, 0, -1)), args.size, args.size, args.seed, args.cell)
        maps = complete_map_set(split_channels(np.moveaxis(out, -1, 0)), strength)
        prefix = f"{name.replace('/', '_')}_tb_s{args.seed}"
        for map_name, array in maps.items():
            written.append(write_png(args.out / f"{prefix}_{map_name}.png", array,
                                     bits=16 if map_name == "height" else 8))
        print(f"{name}: {args.size}x{args.size} in {time.perf_counter() - started:.1f} s -> {args.out / prefix}_*.png")
    return written


def main(argv: list[str] | None = None) -> int:
    """Run the script: 0 on success, 2 with a one-line error on bad input."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    from trainer.data import DataError
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            run(args)
        except (DataError, ValueError, OSError) as exc:
            print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
            return 2
        finally:
            for w in caught:  # skipped files etc.: one line each, without a source line
                print(f"warning: {' '.join(str(w.message).split())}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
