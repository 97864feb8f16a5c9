"""Training options: dataclass defaults < TOML config file < command-line flags."""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from blender_texgan.core.architecture import UPSAMPLING
from blender_texgan.engine.devices import DEVICE_CHOICES

PATCH_SPACES = ("pixels", "bands")  # where the generator's sliced patch loss compares patches


@dataclass
class TrainOptions:
    out: str = ""                             # run folder (created; rerunning resumes it)
    preset: str | None = "bricks"             # procedural preset, used when data is None
    data: str | None = None                   # folder of textures; overrides preset
    steps: int = 3000                         # generator updates
    max_minutes: float = 0.0                  # stop (saved, exit 0) after this much training time (0: no limit)
    batch: int = 8                            # images per step (per process under torchrun)
    crop: int = 128                           # training crop side in pixels (multiple of the latent scale)
    downsample: int = 0                       # the net's scale: shrink folder textures this much (0: auto)
    lr_g: float = 2e-4                        # Adam learning rate, generator
    lr_d: float = 2e-4                        # Adam learning rate, discriminator
    r1_gamma: float = 0.01                    # R1 penalty weight on real images (0 disables; 0.1 stalls D on photos)
    r1_every: int = 4                         # lazy regularisation interval
    patch_loss: float = 10.0                  # weight of the sliced patch-distribution loss on G (0 disables)
    patch_space: str = "pixels"               # that loss on raw "pixels" or on normalised Laplacian "bands"
    augment: bool = True                      # DiffAugment (wrap-around roll, flip, brightness)
    ema_decay: float = 0.995                  # EMA of generator weights (the EMA is exported)
    seed: int = 0                             # seeds data, init and latents
    pool_count: int = 32                      # procedural textures generated for the pool
    pool_size: int = 256                      # side of each procedural texture
    local_channels: int = 32                  # latent: i.i.d. noise channels per cell
    global_channels: int = 8                  # latent: one vector per image (variants)
    periods: list = field(default_factory=list)  # latent: periodic wave periods, in latent cells
    channels: list = field(default_factory=lambda: [96, 64, 24, 12, 8])  # generator widths per scale
    upsample: str = "nearest"                 # generator upsampling: nearest (sharper detail) or bilinear
    d_width: int = 32                         # discriminator base width
    ckpt_every: int = 250                     # steps between checkpoints
    sample_every: int = 250                   # steps between 2x2-tiled sample grids
    eval_every: int = 500                     # steps between metric evaluations (0: only at the end)
    eval_count: int = 32                      # images per metric evaluation
    keep: int = 3                             # checkpoints kept
    device: str = "auto"                      # auto / cpu / cuda / mps
    command: str = ""                         # the command line that started the run


OPTION_NAMES = {f.name for f in fields(TrainOptions)}


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


def resolve_options(cli: dict, config: Path | None = None) -> TrainOptions:
    """Merge: defaults, then the TOML file, then flags given on the command line (not None)."""
    values = asdict(TrainOptions())
    if config is not None:
        values.update(load_toml(config))
    values.update({k: v for k, v in cli.items() if k in OPTION_NAMES and v is not None})
    if values.get("data"):
        values["preset"] = None
    opts = TrainOptions(**values)
    validate(opts)
    return opts


def check_downsample(value: int) -> None:
    _check(0 <= value <= 16, "--downsample must be between 1 and 16 (or 0: automatic)")


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


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
