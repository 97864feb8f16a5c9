"""Terminal entry: python -m blender_texgan generate --model NAME_OR_PATH --size N --seed S --out DIR"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from .core.maps import PBR_MAPS
from .core.modelfile import ModelFileError
from .core.png import write_png
from .engine.devices import DEVICE_CHOICES
from .engine.generate import (
    ENGINES,
    MODES,
    GenerationError,
    GenerationRequest,
    bundled_models,
    check_seed,
    default_model_name,
    generate,
)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m blender_texgan", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate", help="generate a PBR map set and write one PNG per map")
    gen.add_argument("--model", default=default_model_name(),
                     help="bundled model name or path to a .safetensors model (default: %(default)s)")
    gen.add_argument("--size", type=int, default=1024, help="output width and height in pixels")
    gen.add_argument("--seed", type=int, default=0, help="random seed; the same seed gives the same maps")
    gen.add_argument("--out", type=Path, default=Path("out"), help="output folder (created if missing)")
    gen.add_argument("--engine", choices=ENGINES, default="auto",
                     help="torch, numpy (zero-install CPU) or auto (torch when importable)")
    gen.add_argument("--device", choices=DEVICE_CHOICES, default="auto", help="torch device")
    gen.add_argument("--mode", choices=MODES, default="auto",
                     help="refined (net layout + exemplar detail; auto's choice when the model carries an "
                          "exemplar), neural (the net alone: a quick draft), random (exemplar from a random start)")
    gen.add_argument("--name", default=None, help="file-name prefix (default: model name and seed)")
    gen.add_argument("--python", default="", metavar="PATH",
                     help="interpreter that runs --engine external (a Python with torch, e.g. with CUDA)")
    sub.add_parser("models", help="list bundled models")
    return parser.parse_args(argv)


def _progress(fraction: float) -> None:
    print(f"\rgenerating {fraction * 100:5.1f}%", end="" if fraction < 1 else "\n", file=sys.stderr, flush=True)


def check_name(name: str) -> str:
    """A file-name prefix must stay a plain name inside --out."""
    if not name or name in (".", "..") or any(c in name for c in '/\\\0') or name != name.strip():
        raise GenerationError(f"--name must be a plain file-name prefix without folders, not '{name}'.")
    return name


def prepare_output(folder: Path) -> Path:
    """Create --out (and its parents) and make sure files can be written there, before generating."""
    if folder.exists() and not folder.is_dir():
        raise GenerationError(f"--out '{folder}' is a file: give a folder.")
    folder.mkdir(parents=True, exist_ok=True)
    if not os.access(folder, os.W_OK | os.X_OK):
        raise GenerationError(f"--out '{folder}' is not writable.")
    return folder


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.command == "models":
        for name, path in bundled_models().items():
            print(f"{name}\t{path}")
        return 0
    started = time.perf_counter()
    try:
        if args.engine == "external" and not args.python:
            raise GenerationError("--engine external needs --python PATH (an interpreter with torch).")
        check_seed(args.seed)
        prefix = check_name(args.name) if args.name is not None else None
        out = prepare_output(args.out)
        request = GenerationRequest(args.model, args.size, args.seed, args.device, args.engine, args.python,
                                    args.mode)
        maps, manifest = generate(request, progress=_progress if sys.stderr.isatty() else None)
        prefix = prefix or f"{manifest['name']}_s{args.seed}"
        for spec in PBR_MAPS:
            bits = 16 if spec.name == "height" else 8
            print(write_png(out / f"{prefix}_{spec.name}.png", maps[spec.name], bits=bits))
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except (ModelFileError, GenerationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"error: cannot write{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    print(f"generated {args.size}x{args.size} in {time.perf_counter() - started:.2f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
