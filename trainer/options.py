"""Training options: dataclass defaults < TOML config file < command-line flags."""
from __future__ import annotations

import argparse
import math
import os
import tomllib
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path

from blender_texgan.core.arch.generator import UPSAMPLING
from blender_texgan.engine.devices import DEVICE_CHOICES

from .folder import count_texture_sets

TRAINED_KINDS = ("generator", "vae")  # what trainer.train's loop trains (translators have their own)
PATCH_SPACES = ("pixels", "bands")  # where the generator's sliced patch loss compares patches
SMALL_DATA_SETS = 8       # a photo or a folder of at most this many texture sets, given no --steps
SMALL_DATA_MINUTES = 5.0  # or --max-minutes, trains this long: the README's "about five minutes"


def int_list(text: str) -> list[int]:
    return [int(c) for c in text.split(",") if c]


def float_list(text: str) -> list[float]:
    return [float(c) for c in text.split(",") if c]


def str_list(text: str) -> list[str]:
    return [c.strip() for c in text.split(",") if c.strip()]


def option(default, help: str, **flag):
    """A TrainOptions field: its default, and its command-line flag (help text, plus argparse settings
    where the field's type alone does not say them). trainer.__main__ builds the flags from these."""
    metadata = {"help": help, **flag}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class TrainOptions:
    out: str = option("", "run folder, e.g. runs/bricks (created; rerunning resumes it)")
    preset: str | None = option("bricks", "procedural preset, used when there is no --data")
    data: str | None = option(None, "folder of textures (PBR sets matched by file-name tags, or photos)")
    steps: int = option(3000, "generator updates")
    max_minutes: float = option(0.0, "stop, saved, after this many minutes of training (0: no limit)")
    batch: int = option(8, "images per step (per process under torchrun)")
    crop: int = option(128, "training crop side in pixels (a multiple of the latent scale)")
    downsample: int = option(0, "the net's scale: shrink folder textures by this factor (0: automatic, 4x "
                                "coarser than the exemplar the model carries)")
    lr_g: float = option(2e-4, "Adam learning rate, generator")
    lr_d: float = option(2e-4, "Adam learning rate, discriminator")
    r1_gamma: float = option(0.01, "R1 penalty weight on real images (0 disables; 0.1 stalls D on photos)")
    r1_every: int = option(4, "lazy R1 interval in steps")
    kind: str = option("generator", "what is trained (set by train --kind)", flag=None)
    kl_weight: float = option(0.01, "VAE: weight of the KL term per latent value (higher: smoother latent, "
                                    "blurrier reconstructions)")
    patch_loss: float = option(10.0, "weight of the sliced patch-distribution loss on G (0 disables)")
    patch_space: str = option("pixels", "patch loss on raw pixels, or on Laplacian bands normalised per channel "
                                        "(fine detail of faint channels such as height counts too)",
                              choices=PATCH_SPACES)
    augment: bool = option(True, "turn DiffAugment off (wrap-around roll, flip, brightness)",
                           flag="--no-augment", action="store_false")
    ema_decay: float = option(0.995, "EMA decay of the generator weights (the EMA is exported)")
    seed: int = option(0, "seeds data, init and latents")
    pool_count: int = option(32, "procedural textures generated for the pool")
    pool_size: int = option(256, "side of each procedural texture")
    local_channels: int = option(32, "latent: i.i.d. noise channels per cell")
    global_channels: int = option(8, "latent: channels of one vector per image (variants)")
    periods: list = option([], "latent: periodic wave periods in latent cells, e.g. 2,4", type=float_list)
    channels: list = option([96, 64, 24, 12, 8], "generator widths per scale, e.g. 96,64,24,12,8", type=int_list)
    upsample: str = option("nearest", "generator upsampling (nearest: sharper detail; bilinear: smoother, "
                                      "no cell grid)", choices=tuple(sorted(UPSAMPLING.values())))
    d_width: int = option(32, "discriminator base width")
    ckpt_every: int = option(250, "steps between checkpoints")
    sample_every: int = option(250, "steps between 2x2-tiled sample grids")
    eval_every: int = option(500, "steps between metric evaluations (0: only at the end)")
    eval_count: int = option(32, "images per metric evaluation")
    keep: int = option(3, "checkpoints kept")
    device: str = option("auto", "torch device", choices=DEVICE_CHOICES)
    command: str = option("", "the command line that started the run (recorded, not a flag)", flag=None)


OPTION_NAMES = {f.name for f in fields(TrainOptions)}
_TYPES = {"int": int, "float": float, "str": str}


def add_flags(parser, options_class, keep_defaults: bool, skip=()) -> None:
    """Every field of an options dataclass made with option() as a flag: --name-with-dashes, typed by
    its annotation unless its metadata says otherwise. keep_defaults: the field's default is the
    flag's; else None, so that only flags given on the command line win over a config file."""
    for f in fields(options_class):
        settings = dict(f.metadata)
        flag_name = settings.pop("flag", "--" + f.name.replace("_", "-"))
        if flag_name is None or f.name in skip:
            continue
        if "action" not in settings and "type" not in settings:
            settings["type"] = _TYPES[str(f.type).split(" ")[0]]
        default = None
        if keep_defaults and not settings.get("required"):
            default = f.default_factory() if f.default is MISSING else f.default
        parser.add_argument(flag_name, dest=f.name, default=default, **settings)


def load_toml(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            values = tomllib.load(f)
    except FileNotFoundError:
        raise ValueError(f"config file '{path}' does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"config file '{path}' is not valid TOML ({exc})") from None
    values = values.get("train", values)
    unknown = sorted(set(values) - OPTION_NAMES)
    if unknown:
        raise ValueError(f"config file '{path}' has unknown options: {', '.join(unknown)}")
    return values


def resolve_options(cli: dict, config: Path | None = None, notes: list[str] | None = None) -> TrainOptions:
    """Merge: defaults, then the TOML file, then flags given on the command line (not None).
    `notes` gets a line for each choice made for the user (e.g. a small folder's time budget)."""
    values = asdict(TrainOptions())
    given = {k: v for k, v in cli.items() if k in OPTION_NAMES and v is not None}
    if config is not None:
        given = {**load_toml(config), **given}
    values.update(given)
    if values.get("data"):
        values["preset"] = None
    note = small_data_budget(values, set(given))
    if note and notes is not None:
        notes.append(note)
    opts = TrainOptions(**values)
    validate(opts)
    return opts


def small_data_budget(values: dict, given: set[str]) -> str | None:
    """A photo or a small folder given neither --steps nor --max-minutes trains SMALL_DATA_MINUTES,
    so that the default run ends by itself, saved and exportable (3000 steps take hours on a CPU).
    Sets values["max_minutes"]; returns the line that tells the user, or None when nothing was chosen."""
    if not values.get("data") or given & {"steps", "max_minutes"}:
        return None

    count = count_texture_sets(values["data"])
    if not 1 <= count <= SMALL_DATA_SETS:
        return None
    values["max_minutes"] = SMALL_DATA_MINUTES
    sets = "1 texture set" if count == 1 else f"{count} texture sets"
    return (f"budget: {SMALL_DATA_MINUTES:g} min of training for {sets}, then it stops by itself, saved and "
            "exportable (set --max-minutes or --steps to change it)")


def check_downsample(value: int) -> None:
    _check(0 <= value <= 16, "--downsample must be between 1 and 16 (or 0: automatic)")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def check_number(opts, name: str, low: float, above: bool = False, note: str = "") -> None:
    """A finite number at least `low` (above: over it); NaN and infinity never pass."""
    value = getattr(opts, name)
    ok = math.isfinite(value) and (value > low if above else value >= low)
    _check(ok, f"{flag(name)} must be a number {'over' if above else 'at least'} {low:g}{note}, not {value}")


def check_widths(opts, example: str) -> None:
    _check(len(opts.channels) >= 2 and all(int(c) >= 1 for c in opts.channels),
           f"--channels needs at least two positive widths, e.g. {example}")


def parse_into(cls, argv, prog: str, description: str, check):
    """argv -> an instance of the options dataclass `cls` (each field a flag, add_flags), checked by check()."""
    p = argparse.ArgumentParser(prog=prog, description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flags(p, cls, keep_defaults=True)
    opts = cls(**vars(p.parse_args(argv)))
    check(opts)
    return opts


def check_run_folder(run: Path) -> None:
    """Fail before any slow work (torch's import too) when the run folder cannot be made or written."""
    if run.exists() and not run.is_dir():
        raise ValueError(f"the run folder '{run}' is a file: choose a folder for --out")
    existing = next(p for p in [run, *run.absolute().parents] if p.exists())
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write the run folder '{run}': '{existing}' is not writable")


def validate(opts: TrainOptions) -> None:
    """Every option in range before the first step, so that no bad value fails mid-run."""
    _check(bool(opts.out), "--out (the run folder) is required")
    _check(opts.steps >= 1 and opts.batch >= 1, "--steps and --batch must be at least 1")
    _check(opts.crop >= 8, "--crop must be at least 8 pixels")
    _check(opts.max_minutes >= 0, "--max-minutes must be at least 0 (0: no limit)")
    _check(bool(opts.channels) and len(opts.channels) >= 2 and all(int(c) >= 1 for c in opts.channels),
           "--channels needs at least two positive widths, e.g. 96,64,24,12,8")
    scale = 2 ** (len(opts.channels) - 1)
    _check(opts.crop % scale == 0, f"--crop must be a multiple of {scale} (the latent scale of --channels)")
    _check(all(float(p) > 0 for p in opts.periods), "--periods must all be positive (in latent cells)")
    _check(opts.local_channels >= 1 and opts.global_channels >= 0,
           "--local-channels must be at least 1 and --global-channels at least 0")
    _check(opts.lr_g > 0 and opts.lr_d > 0, "--lr-g and --lr-d must be positive")
    _check(opts.r1_gamma >= 0 and opts.r1_every >= 1, "--r1-gamma must be at least 0 (and r1_every at least 1)")
    _check(opts.patch_loss >= 0, "--patch-loss must be at least 0")
    _check(opts.kind in TRAINED_KINDS, f"kind must be one of {', '.join(TRAINED_KINDS)}")
    _check(opts.kl_weight >= 0, "--kl-weight must be at least 0")
    _check(0 <= opts.ema_decay < 1, "--ema-decay must be in [0, 1)")
    _check(opts.pool_count >= 1 and opts.pool_size >= opts.crop,
           "--pool-count must be at least 1 and --pool-size at least --crop")
    _check(opts.d_width >= 1, "--d-width must be at least 1")
    _check(opts.ckpt_every >= 1 and opts.sample_every >= 1,
           "--ckpt-every and --sample-every must be at least 1 (steps between saves)")
    _check(opts.eval_every >= 0, "--eval-every must be at least 0 (0: only at the end)")
    _check(opts.eval_count >= 2, "--eval-count must be at least 2 (diversity compares images)")
    _check(opts.keep >= 1, "--keep must be at least 1 (the newest checkpoint is always kept)")
    _check(opts.device in DEVICE_CHOICES, f"device must be one of {', '.join(DEVICE_CHOICES)}")
    _check(opts.upsample in UPSAMPLING.values(), f"upsample must be one of {', '.join(UPSAMPLING.values())}")
    _check(opts.patch_space in PATCH_SPACES, f"patch_space must be one of {', '.join(PATCH_SPACES)}")
    check_downsample(opts.downsample)


# Options a resumed run may change: when to stop, save, sample and measure, and where it runs.
# Every other option alters what the run learns.
RESUMABLE = frozenset({"out", "steps", "max_minutes", "command", "ckpt_every", "sample_every", "eval_every", "eval_count",
                       "keep", "device"})


def _same(name: str, old, new) -> bool:
    if name == "data" and old and new:
        return Path(old).expanduser().resolve() == Path(new).expanduser().resolve()
    if isinstance(old, (list, tuple)) or isinstance(new, (list, tuple)):
        return [float(v) for v in old or []] == [float(v) for v in new or []]
    return old == new


def learning_changes(stored: dict, opts: TrainOptions) -> dict[str, tuple]:
    """{option: (value the run was trained with, value now)} for changes that alter learning."""
    now = asdict(opts)
    return {name: (stored[name], now[name]) for name in sorted(OPTION_NAMES - RESUMABLE)
            if name in stored and not _same(name, stored[name], now[name])}


def flag(name: str) -> str:
    return "--" + name.replace("_", "-")
