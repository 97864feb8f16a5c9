"""The options of `python -m trainer train --kind translator` (trained by trainer.translator), read and
checked without torch: a refused option costs half a second, not torch's import.

    python -m trainer train --kind translator --data ../shared/data/cc0 --out runs/photo2pbr \
        [--holdout Bricks102,Rock058] [--steps 4000] [--max-minutes 10]

A photo -> maps translator (pix2pix-style: a periodic U-Net and a patch discriminator) learns from PBR sets
rendered under random lights; sets named in --holdout are never seen. The run folder gets checkpoints (Ctrl-C
saves the step reached; rerunning resumes), log.jsonl and model.safetensors.
"""
from __future__ import annotations

from dataclasses import dataclass

from blender_texgan.engine.devices import DEVICE_CHOICES

from .options import check_number, check_widths, int_list, option, parse_into, str_list

BORDER = 16  # crop pixels left out of the losses: a crop's wrap-around edge is not real content


@dataclass
class TranslatorOptions:
    data: str = option("", "folder of PBR sets (each with an albedo and a normal map)", required=True)
    out: str = option("", "run folder (created; rerunning resumes it)", required=True)
    holdout: list = option([], "comma-separated set names never trained on", type=str_list)
    steps: int = option(4000, "translator updates")
    max_minutes: float = option(0.0, "stop, saved and exported, after this many minutes of training (0: no limit)")
    batch: int = option(8, "crops per step")
    crop: int = option(256, "training crop side in pixels (a multiple of 2^(levels - 1), over 32)")
    max_side: int = option(1024, "sets are shrunk until their longer side is at most this")
    channels: list = option([32, 64, 96, 128, 160], "U-Net widths per level", type=int_list)
    lr: float = option(1e-3, "Adam learning rate (decays linearly to a tenth over the run)")
    gan: float = option(0.02, "weight of the adversarial term (0: none)")
    normal_weight: float = option(4.0, "weight of the normal's 1 - cos loss")
    ckpt_every: int = option(500, "steps between checkpoints")
    ckpt_minutes: float = option(0.0, "also a checkpoint whenever this many minutes of training passed since the "
                                      "last (0: by steps only); a time-boxed run killed at any moment keeps its work")
    log_every: int = option(50, "steps between rows of losses in log.jsonl")
    seed: int = option(0, "seeds the crops, the lights and the initial weights")
    device: str = option("auto", "torch device", choices=DEVICE_CHOICES)


def parse_options(argv) -> TranslatorOptions:
    return parse_into(TranslatorOptions, argv, "python -m trainer train --kind translator", __doc__, validate_translator)


def validate_translator(opts: TranslatorOptions) -> None:
    """Every option in range before any work (NaN and infinite weights never pass)."""
    for name in ("steps", "batch", "ckpt_every", "log_every", "max_side"):
        check_number(opts, name, 1)
    check_number(opts, "seed", 0)
    check_number(opts, "max_minutes", 0, note=" (0: no limit)")
    check_number(opts, "ckpt_minutes", 0, note=" (0: checkpoints by steps only)")
    check_number(opts, "lr", 0, above=True)
    check_number(opts, "gan", 0, note=" (0: no adversarial term)")
    check_number(opts, "normal_weight", 0)
    check_widths(opts, "32,64,96,128,160")
    multiple = 2 ** (len(opts.channels) - 1)
    if opts.crop % multiple or opts.crop <= 2 * BORDER:
        raise ValueError(f"--crop must be a multiple of {multiple} and over {2 * BORDER}")
