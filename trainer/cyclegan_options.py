"""The options of `python -m trainer train --kind cyclegan` (trained by trainer.cyclegan), read and checked
without torch: a refused option costs half a second, not torch's import.

    python -m trainer train --kind cyclegan --data-a DIR [DIR ...] --data-b DIR [DIR ...] --out RUN \
        [--name-a "clean metal"] [--name-b "rusty metal"] [--max-minutes 12] [--credit TEXT ...]

Material translation, unpaired: two small periodic translators (A -> B and B -> A) with patch
discriminators, cycle-consistency and identity terms, trained on one or more folders of texture sets per
material. The run folder gets options.json, log.jsonl, checkpoints (Ctrl-C saves the step reached; rerunning
resumes) and both directions as model files: a_to_b.safetensors and b_to_a.safetensors.
"""
from __future__ import annotations

from dataclasses import dataclass

from blender_texgan.engine.devices import DEVICE_CHOICES

from .options import check_number, check_widths, int_list, option, parse_into


@dataclass
class CycleGanOptions:
    data_a: list = option([], "folder(s) of texture sets of material A (e.g. clean metal)", type=str, nargs="+",
                          required=True)
    data_b: list = option([], "folder(s) of texture sets of material B (e.g. rusty metal)", type=str, nargs="+",
                          required=True)
    out: str = option("", "run folder (created; rerunning resumes it)", required=True)
    name_a: str = option("", "material A in words, e.g. 'clean metal' (default: its folders' names)")
    name_b: str = option("", "material B in words, e.g. 'rusty metal'")
    credits: list = option([], "credit line for the model card (repeatable; default: the set names)",
                           flag="--credit", action="append", metavar="TEXT")
    steps: int = option(20000, "updates of both translators")
    max_minutes: float = option(0.0, "stop, saved and exported, after this many minutes of training (0: no limit)")
    batch: int = option(4, "crops of each material per step")
    crop: int = option(64, "training crop side at the working scale")
    downsample: int = option(0, "net pixels per source pixel: a power of 2 (0: automatic, the working scale)")
    channels: list = option([16, 32, 48, 64], "U-Net widths per level", type=int_list)
    lr: float = option(5e-4, "Adam learning rate")
    cycle: float = option(10.0, "weight of A -> B -> A = A (and B -> A -> B = B)")
    # more holds the residual nets at the identity (5 kept them from moving)
    identity: float = option(0.5, "weight of B -> B = B (and A -> A = A)")
    gan: float = option(1.0, "weight of the least-squares GAN terms")
    ckpt_every: int = option(500, "steps between checkpoints")
    log_every: int = option(25, "steps between rows of losses in log.jsonl")
    seed: int = option(0, "seeds the crops, the turns and the initial weights")
    device: str = option("auto", "torch device", choices=DEVICE_CHOICES)
    threads: int = option(0, "torch CPU threads (0: torch's choice)")


def parse_options(argv) -> CycleGanOptions:
    return parse_into(CycleGanOptions, argv, "python -m trainer train --kind cyclegan", __doc__, validate_cyclegan)


def validate_cyclegan(opts: CycleGanOptions) -> None:
    """Every option in range before any work (NaN and infinite weights never pass)."""
    for name in ("steps", "batch", "ckpt_every", "log_every"):
        check_number(opts, name, 1)
    for name in ("seed", "threads"):
        check_number(opts, name, 0)
    check_number(opts, "max_minutes", 0, note=" (0: no limit)")
    check_number(opts, "lr", 0, above=True)
    for name in ("cycle", "identity", "gan"):
        check_number(opts, name, 0)
    check_widths(opts, "16,32,48,64")
    multiple = 2 ** (len(opts.channels) - 1)
    if len(opts.channels) > 7 or opts.crop < 2 * multiple or opts.crop % multiple:
        raise ValueError(f"--crop must be a multiple of {multiple} (two or more) for {len(opts.channels)} levels "
                         "(at most 7)")
    if opts.downsample < 0 or opts.downsample & (opts.downsample - 1):
        raise ValueError(f"--downsample must be 0 (auto) or a power of 2, not {opts.downsample}")
