"""Training options: dataclass defaults < TOML config file < command-line flags."""
from __future__ import annotations

import tomllib
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

from blender_texgan.core.architecture import UPSAMPLING


PATCH_SPACES = ("pixels", "bands")  # where the generator's sliced patch loss compares patches


@dataclass
class TrainOptions:
    out: str = ""                             # run folder (created; rerunning resumes it)
    preset: str | None = "bricks"             # procedural preset, used when data is None
    data: str | None = None                   # folder of textures; overrides preset
    steps: int = 3000                         # generator updates
    batch: int = 8                            # images per step (per process under torchrun)
    crop: int = 128                           # training crop side in pixels (multiple of the latent scale)
    downsample: int = 1                       # shrink folder textures by this factor first (more structure per crop)
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
    if not opts.out:
        raise ValueError("--out (the run folder) is required")
    if opts.steps < 1 or opts.batch < 1 or opts.crop < 8:
        raise ValueError("steps and batch must be positive and crop at least 8")
    if opts.upsample not in UPSAMPLING.values():
        raise ValueError(f"upsample must be one of {', '.join(UPSAMPLING.values())}")
    if opts.patch_space not in PATCH_SPACES:
        raise ValueError(f"patch_space must be one of {', '.join(PATCH_SPACES)}")
    if not 1 <= opts.downsample <= 16:
        raise ValueError("downsample must be between 1 and 16")
    return opts
