"""python -m trainer {data,train,export,review,eval}: make data, train tileable PBR generators, export,
review and measure models. Under torchrun, `train` runs DistributedDataParallel across the processes."""
from __future__ import annotations

import argparse
import json
import os
import pickle
import shlex
import sys
import warnings
from dataclasses import fields
from pathlib import Path

from .data import DataError
from .options import TrainOptions, add_flags
from .procedural import PRESETS


def _data_command(sub) -> None:
    """`data`: procedural PBR sets as PNG files."""
    data = sub.add_parser("data", help="write procedural PBR sets as PNG files")
    data.add_argument("--preset", choices=sorted(PRESETS), required=True)
    data.add_argument("--count", type=int, default=8, help="number of material sets")
    data.add_argument("--size", type=int, default=512, help="side in pixels")
    data.add_argument("--seed", type=int, default=0)
    data.add_argument("--out", type=Path, required=True, help="output folder")


def _help(name: str) -> str:
    return next(f.metadata["help"] for f in fields(TrainOptions) if f.name == name)


def _train_command(sub) -> None:
    """`train`: every training option as a flag (see trainer.options)."""
    train = sub.add_parser("train", help="train a tileable generator (rerun to resume a run folder)")
    train.add_argument("--config", type=Path, help="TOML file of options; flags given here override it")
    src = train.add_mutually_exclusive_group()
    src.add_argument("--preset", choices=sorted(PRESETS), help=_help("preset") + " (default bricks)")
    src.add_argument("--data", type=str, help=_help("data"))
    add_flags(train, TrainOptions, keep_defaults=False, skip=("preset", "data"))
    train.add_argument("--dry-run", action="store_true", help="print the resolved options and exit")
    train.add_argument("--resume-with-changes", action="store_true",
                       help="resume a run although options that alter learning changed (recorded in log.jsonl)")


def _export_command(sub) -> None:
    """`export`: a run's generator and exemplar as a model file."""
    export = sub.add_parser("export", help="write a run's EMA generator as a .safetensors model file")
    export.add_argument("run", type=Path)
    export.add_argument("--out", type=Path, required=True, help="model file path (.safetensors)")
    export.add_argument("--name", default=None, help="model name (default: the file name)")
    export.add_argument("--description", default="")
    export.add_argument("--no-metrics", action="store_true", help="skip measuring the model")
    export.add_argument("--force", action="store_true", help="overwrite an existing model file")
    export.add_argument("--credit", action="append", default=[], metavar="TEXT",
                        help="credit line for the model card, e.g. the source's author and address (repeatable; "
                             "replaces the bare source names taken from the data)")


def _review_command(sub) -> None:
    """`review`: what a person saw, on the card."""
    review = sub.add_parser("review", help="put what you saw on a model's contact sheet on its card")
    review.add_argument("model", type=Path, help="model file (.safetensors)")
    review.add_argument("text", help="one or two sentences, e.g. 'stones and mortar read well; rows wander'")
    review.add_argument("--mode", choices=("refined", "random", "blend"), default=None,
                        help="make this the model's default detail mode (when your eyes overrule the gate)")


def _eval_command(sub) -> None:
    """`eval`: a model measured beside tiling and blending."""
    ev = sub.add_parser("eval", help="measure a model file: SWD ratio, seam ratio, diversity ratio")
    ev.add_argument("model", help="model file (.safetensors) or bundled model name")
    esrc = ev.add_mutually_exclusive_group(required=True)
    esrc.add_argument("--data", type=str, help="folder of textures (its held-out quarter is used)")
    esrc.add_argument("--preset", choices=sorted(PRESETS))
    ev.add_argument("--count", type=int, default=64, help="images per set")
    ev.add_argument("--crop", type=int, default=None, help="crop side (default: the model's native tile)")
    ev.add_argument("--downsample", type=int, default=None,
                    help="shrink the textures by this factor (default: as the model was trained)")
    ev.add_argument("--seed", type=int, default=0)
    ev.add_argument("--json", action="store_true", help="print JSON only")
    ev.add_argument("--sheet", type=Path, default=None,
                    help="write a contact sheet PNG: exemplar | 4 samples | one tiled 2x2 | tiling and blending")
    ev.add_argument("--mode", choices=("auto", "refined", "neural", "random"), default="auto",
                    help="generation mode to measure (see python -m blender_texgan generate --help)")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    for add in (_data_command, _train_command, _export_command, _review_command, _eval_command):
        add(sub)
    return parser.parse_args(argv)


def _train(args, argv, kind: str = "generator") -> int:
    from .options import check_run_folder, resolve_options

    cli = {k: v for k, v in vars(args).items() if k not in ("command", "config", "dry_run", "resume_with_changes")}
    cli["kind"] = kind
    cli["command"] = "python -m trainer " + shlex.join(argv[:1] + (["--kind", kind] if kind != "generator" else [])
                                                       + argv[1:])
    notes = []
    opts = resolve_options(cli, args.config, notes)
    for note in notes if os.environ.get("RANK", "0") == "0" else []:  # first, and once under torchrun
        print(note, file=sys.stderr)
    if args.dry_run:
        from dataclasses import asdict
        print(json.dumps(asdict(opts), indent=2))
        return 0
    check_run_folder(Path(opts.out))   # a file or a read-only place as --out: refused before torch loads too
    from .train import train  # torch loads here, after the options are checked (a refusal takes half a second)
    ckpt = train(opts, allow_changes=args.resume_with_changes)
    if ckpt is not None:
        print(f"checkpoint: {ckpt}")
    return 0


def _eval(args) -> int:
    """Measure a model file through the add-on's own generation path, beside the tiling-and-blending
    baseline on the same exemplar and the same held-out crops; optionally write a contact sheet."""
    from blender_texgan.core.arch.vae import decoder_config
    from blender_texgan.core.modelfile import read_model_file
    from blender_texgan.engine.generate import resolve_model

    from .data import load_training_data
    from .options import check_downsample
    from .quality import beats_baseline, compare_with_baseline, contact_sheet, model_samples

    if args.count < 2:  # the diversity and distribution measures compare images with each other
        raise ValueError(f"--count must be at least 2 (images per set), not {args.count}")
    if args.sheet:  # an unwritable sheet is found before the measuring, not after
        from .export import check_output_file
        check_output_file(args.sheet, "--sheet")
    path = resolve_model(args.model)
    model = read_model_file(path)
    training = model.manifest.get("training", {})
    downsample = args.downsample if args.downsample is not None else int(training.get("downsample", 1))
    check_downsample(downsample)
    crop = int(model.manifest.get("native_tile_size", 128))
    if model.exemplar is not None:  # measured at the scale the model generates at: its exemplar's
        downsample = max(1, downsample // int(model.manifest["exemplar"].get("guide_scale", 1)))
    data = load_training_data(args.preset, args.data, crop, 16, max(256, 2 * crop), args.seed + 1, downsample)
    scale = decoder_config(model.manifest).scale
    result = compare_with_baseline(path, data, scale, args.count, args.seed, mode=args.mode)
    result["within_baseline"] = beats_baseline(result)
    if args.sheet:
        samples, _ = model_samples(path, result["crop"] * 2, 4, args.seed, mode=args.mode)
        from .quality import baseline_samples, closeup_columns, closeup_rows
        base, _ = baseline_samples(data.stacks[0], result["crop"] * 2, 1, args.seed)
        strength = (model.manifest["normal_strength"] if model.exemplar is None
                    else model.manifest["exemplar"]["normal_strength"])
        closeup = (None if model.exemplar is None  # 1:1 crops: exemplar | the default mode | tiling and blending
                   else closeup_rows(closeup_columns(path, model.exemplar, strength, args.seed)))
        print(contact_sheet(args.sheet, data.stacks[0], samples, strength, baseline=base[0], closeup=closeup),
              file=sys.stderr)
    if args.json:  # the model's metrics at the top level, the baseline's beside them
        print(json.dumps({**result["model"], "baseline": result["baseline"], "crop": result["crop"],
                          "within_baseline": result["within_baseline"]}))
        return 0
    for key in sorted(set(result["model"]) | set(result["baseline"])):
        m, b = result["model"].get(key), result["baseline"].get(key)
        fmt = lambda v: f"{v:10.4f}" if isinstance(v, float) else f"{'-':>10}"
        print(f"{key:24s} {fmt(m)} {fmt(b)}")
    print(f"within 10% of tiling and blending: {result['within_baseline']}")
    return 0


def _kind(argv: list[str]) -> tuple[str, list[str]]:
    """`train --kind K ...` -> (K, argv without the flag); generator when not given."""
    for i, arg in enumerate(argv):
        if arg == "--kind" and i + 1 < len(argv):
            return argv[i + 1], argv[:i] + argv[i + 2:]
        if arg.startswith("--kind="):
            return arg.split("=", 1)[1], argv[:i] + argv[i + 1:]
    return "generator", argv


KINDS = ("generator", "translator", "vae", "cyclegan")


def _translator_main(argv: list[str]) -> int:
    """`train --kind translator` and `eval-translator`: photo -> maps networks (trainer.translator)."""
    if argv[0] == "train":
        from .options import check_run_folder
        from .translator_options import parse_options
        opts = parse_options(argv[1:])
        check_run_folder(Path(opts.out))   # refused before torch loads, as a bad option is
        from .translator import train_translator
        print(train_translator(opts))
        return 0
    from .translator_eval import main as eval_main
    return eval_main(argv[1:])


def _cyclegan_main(argv: list[str]) -> int:
    """`train --kind cyclegan`: material translation, unpaired (trainer.cyclegan)."""
    from .cyclegan_options import parse_options
    from .options import check_run_folder
    opts = parse_options(argv[1:])
    check_run_folder(Path(opts.out))   # refused before torch loads, as a bad option is
    from .cyclegan import train_cyclegan
    for path in train_cyclegan(opts):
        print(path)
    return 0


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    kind = "generator"
    if argv[:1] == ["train"]:
        kind, argv = _kind(argv)
        if kind not in KINDS:
            print(f"error: --kind must be one of {', '.join(KINDS)}, not {kind!r}", file=sys.stderr)
            return 2
    from blender_texgan.core.modelfile import ModelFileError
    from blender_texgan.engine.generate import GenerationError
    try:
        if kind == "cyclegan":
            return _cyclegan_main(argv)
        if kind == "translator" or argv[:1] == ["eval-translator"]:
            return _translator_main(argv)
        return _command(parse_args(argv), argv, kind)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except OSError as exc:
        where = f" '{exc.filename}'" if exc.filename else ""
        print(f"error: cannot use{where}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    except (DataError, ModelFileError, GenerationError, ValueError, RuntimeError, pickle.UnpicklingError) as exc:
        print(f"error: {one_line(exc)}", file=sys.stderr)
        return 2


def _command(args, argv: list[str], kind: str = "generator") -> int:
    """The generator commands: data, train, export, eval, review."""
    if args.command == "data":
        if args.size < 32 or args.count < 1:
            raise ValueError("--size must be at least 32 pixels and --count at least 1")
        from .data import write_material
        from .procedural import make_material
        for i in range(args.count):
            write_material(args.out, f"{args.preset}_{i:03d}", make_material(args.preset, args.seed + i, args.size))
        print(f"wrote {args.count} {args.preset} sets of {args.size}x{args.size} to {args.out}")
    elif args.command == "train":
        return _train(args, argv, kind)
    elif args.command == "export":
        from .export import check_export_target, export_run
        check_export_target(args.out, args.force)
        print(export_run(args.run, args.out, args.name, args.description, not args.no_metrics, args.credit))
    elif args.command == "eval":
        return _eval(args)
    elif args.command == "review":
        from .export import set_review
        if not args.text.strip():
            raise ValueError("the review is empty: say in a sentence or two what you saw on the contact sheet")
        print(set_review(args.model, args.text, args.mode))
    return 0


def one_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


if __name__ == "__main__":
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        sys.exit(main())
