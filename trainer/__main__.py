"""python -m trainer {data,train,export}: make data, train tileable PBR generators, export models."""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import fields
from pathlib import Path

from .data import DataError
from .procedural import PRESETS


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    data = sub.add_parser("data", help="write procedural PBR sets as PNG files")
    data.add_argument("--preset", choices=sorted(PRESETS), required=True)
    data.add_argument("--count", type=int, default=8, help="number of material sets")
    data.add_argument("--size", type=int, default=512, help="side in pixels")
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--out", type=Path, required=True, help="output folder")

    train = sub.add_parser("train", help="train a tileable generator (resumes if the run folder has checkpoints)")
    src = train.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=sorted(PRESETS), default="bricks")
    src.add_argument("--data", type=Path, help="folder of textures (PBR sets matched by file-name tags)")
    train.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/bricks")
    train.add_argument("--steps", type=int, default=2000)
    train.add_argument("--batch", type=int, default=8)
    train.add_argument("--crop", type=int, default=128)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--channels", type=lambda s: [int(c) for c in s.split(",")], default=None,
                       help="generator widths per scale, comma separated (default 64,64,48,32,16)")
    train.add_argument("--latent-channels", type=int, default=None)
    train.add_argument("--ckpt-every", type=int, default=250)
    train.add_argument("--sample-every", type=int, default=250)
    train.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda", "mps"))

    export = sub.add_parser("export", help="write a run's EMA generator as a .safetensors model file")
    export.add_argument("run", type=Path)
    export.add_argument("--out", type=Path, required=True, help="model file path (.safetensors)")
    export.add_argument("--name", default=None, help="model name (default: the file name)")
    export.add_argument("--description", default="")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    try:
        if args.command == "data":
            from .data import write_material
            from .procedural import make_material
            for i in range(args.count):
                write_material(args.out, f"{args.preset}_{i:03d}", make_material(args.preset, args.seed + i, args.size))
            print(f"wrote {args.count} {args.preset} sets of {args.size}x{args.size} to {args.out}")
        elif args.command == "train":
            from .train import TrainOptions, train
            known = {f.name for f in fields(TrainOptions)}
            opts = {k: v for k, v in vars(args).items() if k in known and v is not None}
            opts["out"], opts["data"] = str(args.out), str(args.data) if args.data else None
            if args.data:
                opts["preset"] = None
            opts["command"] = "python -m trainer " + shlex.join(argv)
            ckpt = train(TrainOptions(**opts))
            print(f"checkpoint: {ckpt}")
        elif args.command == "export":
            from .export import export_run
            if args.out.suffix != ".safetensors":
                print("error: --out must end in .safetensors", file=sys.stderr)
                return 2
            print(export_run(args.run, args.out, args.name, args.description))
    except (DataError, ValueError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
