"""Training throughput at 128x128 and its ratio to a 3x3-conv roofline measured in the same run,
plus (given a finished run folder) the wall time it took to reach the quality bar.

    .venv/bin/python benchmarks/train_throughput.py [--steps 30] [--run runs/proc_bricks]

The roofline is the best GFLOP/s this machine reaches on one large 3x3 convolution (forward), so
the ratio says how much of the hardware the whole training step uses.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn

from blender_texgan.engine.nets.generator import build_generator
from trainer.checkpoints import latest_checkpoint, load_checkpoint
from trainer.discriminator import PatchDiscriminator
from trainer.metrics import QUALITY_BAR, meets_bar
from trainer.options import TrainOptions, resolve_options
from trainer.session import generator_config
from trainer.train import train

ROOT = Path(__file__).resolve().parent.parent


def conv_flops(module: nn.Module, x: torch.Tensor) -> float:
    """Multiply-adds x 2 of every Conv2d in one forward pass."""
    total = [0.0]

    def hook(m, inputs, output):
        k = m.kernel_size[0] * m.kernel_size[1] * m.in_channels // m.groups
        total[0] += 2.0 * output.numel() * k

    handles = [m.register_forward_hook(hook) for m in module.modules() if isinstance(m, nn.Conv2d)]
    with torch.no_grad():
        module(x)
    for h in handles:
        h.remove()
    return total[0]


def roofline_gflops(repeats: int = 7) -> float:
    conv = nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(8, 64, 128, 128)
    flops = 2.0 * 8 * 64 * 128 * 128 * 64 * 9
    times = []
    with torch.no_grad():
        conv(x)
        for _ in range(repeats):
            t0 = time.perf_counter()
            conv(x)
            times.append(time.perf_counter() - t0)
    return flops / min(times) / 1e9


def step_flops(opts: TrainOptions) -> float:
    cfg, layout = generator_config(opts)
    G, D = build_generator(cfg), PatchDiscriminator(5, opts.d_width)
    side = opts.crop // cfg.scale
    g = conv_flops(G, torch.randn(1, layout.channels, side, side))
    d = conv_flops(D, torch.randn(1, 5, opts.crop, opts.crop))
    b = opts.batch
    # D step: G fwd, D fwd+bwd on 2B.  G step: D fwd+bwd(input) on B, G bwd.  R1 every r1_every
    # steps: D fwd + double backward on B (about 4 D forwards).
    return b * (3 * g + 3 * 2 * d + 3 * d + 4 * d / opts.r1_every)


def time_to_quality(run: Path) -> dict | None:
    metrics = [json.loads(l) for l in (run / "metrics.jsonl").read_text().splitlines()]
    seconds = {}
    for line in (run / "log.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "step" in rec and "seconds" in rec:
            seconds[rec["step"]] = rec["seconds"]
    for m in metrics:
        if meets_bar(m):
            return {"step": m["step"], "train_seconds": seconds.get(m["step"]), **m}
    best = min(metrics, key=lambda m: m["swd_ratio"]) if metrics else None
    return {"reached": False, "best": best}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--run", type=Path, help="finished run folder to read the time-to-quality from")
    parser.add_argument("--config", type=Path, default=ROOT / "configs" / "library.toml",
                        help="training recipe to time (default: the bundled library's)")
    args = parser.parse_args()

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"device {'cuda' if torch.cuda.is_available() else 'cpu'}")
    roof = roofline_gflops()
    with tempfile.TemporaryDirectory() as tmp:
        opts = resolve_options({"out": tmp, "preset": "bricks", "steps": args.steps, "eval_every": 0,
                                "sample_every": 10 ** 9, "ckpt_every": 10 ** 9, "pool_count": 8}, args.config)
        t0 = time.perf_counter()
        train(opts)
        wall = time.perf_counter() - t0
        state = load_checkpoint(latest_checkpoint(Path(tmp)))
        per_step = [json.loads(l) for l in (Path(tmp) / "log.jsonl").read_text().splitlines()]
    step_times = [b["seconds"] - a["seconds"] for a, b in zip(per_step, per_step[1:])][2:]  # skip warm-up
    median_step = statistics.median(step_times)
    images_per_s = opts.batch / median_step
    achieved = step_flops(opts) / median_step / 1e9
    print(f"3x3-conv roofline (64->64, 8x128x128, forward): {roof:.1f} GFLOP/s")
    print(f"recipe {args.config.name}: generator {opts.channels}, patch loss {opts.patch_loss}, "
          f"r1 {opts.r1_gamma} every {opts.r1_every}")
    print(f"training at {opts.crop}x{opts.crop}, batch {opts.batch}: median step {median_step * 1000:.0f} ms "
          f"over {len(step_times)} steps -> {images_per_s:.1f} images/s "
          f"(wall {wall:.1f} s incl. setup for {state['step']} steps)")
    print(f"achieved {achieved:.1f} GFLOP/s = {achieved / roof:.2f} x roofline")
    if args.run:
        print(f"time to quality bar {QUALITY_BAR} in {args.run}: {json.dumps(time_to_quality(args.run))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
