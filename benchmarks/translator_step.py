"""Where a photo translator's training step spends its time (trainer.translator), on this machine.

    .venv/bin/python benchmarks/translator_step.py [--data FOLDER] [--batch 8] [--crop 128] [--steps 12]

A run is built as `python -m trainer train --kind translator` builds it, then steps are timed as
the training loop runs them (losses read back every --log-every steps, as trainer.loop does). Each
step is split by wall clock (exact on a CPU, where every op finishes before the next starts) into:
the translator's and the discriminator's forward passes, the backward passes, and the rest: the
training pairs (crops, symmetries, shading), losses, optimiser steps, learning rate, logging. One
more short pass runs under the torch profiler and lists the ops that take the most time.

Figures for the record: benchmarks/results/translator_step.txt (before and after the batched step).
"""
from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent  # the repository (its shared data folder sits beside it)

NETWORK = ("G.forward", "D.forward", "backward")
OUTSIDE = ("pairs", "optimiser")  # regions of a step outside the nets' passes, timed on their own


def timed_outside(clock) -> float:
    return sum(clock.seconds[k] for k in OUTSIDE)


class Clock:
    """Wall-clock seconds per labelled region; regions never nest (forward and backward passes)."""

    def __init__(self):
        self.seconds = defaultdict(float)
        self.profile = False

    @contextlib.contextmanager
    def region(self, label: str):
        t0 = time.perf_counter()
        ctx = torch.profiler.record_function(label) if self.profile else contextlib.nullcontext()
        with ctx:
            yield
        self.seconds[label] += time.perf_counter() - t0

    def wrap(self, obj, name: str, label: str) -> None:
        inner = getattr(obj, name)

        def timed(*args, **kwargs):
            with self.region(label):
                return inner(*args, **kwargs)

        setattr(obj, name, timed)


def instrument(session, clock: Clock) -> None:
    """Time the nets' forward passes and every backward pass, without changing what runs."""
    clock.wrap(session.G, "forward", "G.forward")
    clock.wrap(session.D, "forward", "D.forward")
    clock.wrap(session.pairs, "batch", "pairs")
    clock.wrap(session.opt_g, "step", "optimiser")
    clock.wrap(session.opt_d, "step", "optimiser")
    backward = torch.autograd.backward  # what Tensor.backward calls too

    def timed_backward(*args, **kwargs):
        with clock.region("backward"):
            return backward(*args, **kwargs)

    torch.autograd.backward = timed_backward


def run(session, steps: int, log_every: int, clock: Clock) -> float:
    """Train `steps` steps as trainer.loop.run_steps does; -> wall seconds."""
    t0 = time.perf_counter()
    for _ in range(steps):
        with clock.region("step"):
            losses = session.train_step()
            if session.step % log_every == 0:
                {k: round(float(v), 5) for k, v in losses.items()}  # the log row's read-back
    return time.perf_counter() - t0


def make_session(a, out: Path):
    from trainer.translator import TranslatorSession
    from trainer.translator_options import TranslatorOptions, validate_translator

    opts = TranslatorOptions(data=a.data, out=str(out), batch=a.batch, crop=a.crop, max_side=a.max_side,
                             steps=10 ** 6, log_every=a.log_every, device="cpu", seed=0)
    if a.channels:
        opts.channels = [int(c) for c in a.channels.split(",")]
    if a.sets:
        from trainer.translator import _all_names
        opts.holdout = [n for n in _all_names(a.data) if n not in a.sets.split(",")]
    validate_translator(opts)
    return TranslatorSession(opts, log=lambda *_: None)


def report(clock: Clock, seconds: float, steps: int) -> None:
    step = clock.seconds["step"]
    net = sum(clock.seconds[k] for k in NETWORK)
    print(f"steps/s {steps / seconds:.3f}  ({seconds / steps * 1000:.0f} ms a step, {steps} steps)")
    for k in NETWORK:
        print(f"  {k:<12} {clock.seconds[k] / step * 100:5.1f} %")
    print(f"  outside forward and backward {100 * (1 - net / step):.1f} % of a step: training pairs "
          f"{clock.seconds['pairs'] / step * 100:.1f} %, optimiser steps {clock.seconds['optimiser'] / step * 100:.1f} %,"
          f" the rest (losses, learning rate, log) {100 * (1 - net / step) - timed_outside(clock) / step * 100:.1f} %")


def _where(event) -> str:
    """'nets' or 'outside' for an op called from Python inside a step; '' for an op another op called."""
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith("aten::"):
            return ""
        if parent.name in NETWORK:
            return "nets"
        if parent.name in ("step", *OUTSIDE):
            return "outside"
        parent = parent.cpu_parent
    return ""


def profile_table(session, clock: Clock, log_every: int, steps: int, rows: int) -> None:
    """A few steps under the torch profiler: the ops started outside the nets' passes per step (each
    a kernel launch on a GPU, where the nets are fast and these launches are what the GPU waits for),
    and the ops that took the most time."""
    clock.profile = True
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        run(session, steps, log_every, clock)
    top = defaultdict(int)
    for e in prof.events():
        if e.name.startswith("aten::"):
            top[_where(e)] += 1
    print(f"ops started per step: {top['outside'] / steps:.0f} outside the nets' passes, "
          f"{top['nets'] / steps:.0f} in them (aten ops called from Python, optimiser steps included)")
    if rows:
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows, max_name_column_width=40))


H100_BF16_TFLOPS = 989.0  # dense bf16 tensor-core peak of an H100 SXM
H100_TB_S = 3.35          # its memory bandwidth, TB/s


def conv_work(net, x) -> tuple[float, float]:
    """(multiply-adds, bytes of activations read and written in bf16) of one forward pass of `net`'s
    convolutions on x, counted by hooks."""
    macs, moved = [0.0], [0.0]

    def hook(conv, inputs, out):
        k = conv.kernel_size[0] * conv.kernel_size[1] * conv.in_channels // conv.groups
        macs[0] += out.numel() * k
        moved[0] += 2 * (inputs[0].numel() + out.numel())

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        net(x)
    for h in handles:
        h.remove()
    return macs[0], moved[0]


def h100_estimate(channels, batch: int, crop: int, utilisation: float, runs: int, seconds: float) -> None:
    """FLOPs of one training step, and the steps each of `runs` side-by-side runs gets in `seconds`
    of an H100 at `utilisation` of its bf16 peak (or at its memory bandwidth, if that binds first)."""
    from blender_texgan.core.arch.photo_translator import UNetConfig
    from blender_texgan.engine.nets.photo_translator import build_translator
    from trainer.discriminator import PatchDiscriminator

    g_macs, g_bytes = conv_work(build_translator(UNetConfig(tuple(channels))), torch.zeros(1, 6, crop, crop))
    d_macs, d_bytes = conv_work(PatchDiscriminator(11, 32, 3), torch.zeros(1, 11, crop, crop))
    # G: forward + backward (inputs and weights) = 3 passes; D: the adversarial term's forward and its
    # backward to the input (2), and D's own update on real and fake (2 x 3)
    flops = 2 * batch * (3 * g_macs + 8 * d_macs)
    moved = batch * (3 * g_bytes + 8 * d_bytes) * 2  # elementwise passes (activation, pad, cat) about double it
    compute_s = flops / (H100_BF16_TFLOPS * 1e12 * utilisation)
    memory_s = moved / (H100_TB_S * 1e12 * 0.5)  # at half the peak bandwidth
    step_s = max(compute_s, memory_s)
    print(f"one step (batch {batch}, crop {crop}): {flops / 1e12:.2f} TFLOP (G {6 * batch * g_macs / 1e12:.2f}), "
          f"{moved / 1e9:.1f} GB of activations")
    print(f"H100 at {utilisation:.0%} of {H100_BF16_TFLOPS:g} TFLOP/s: {compute_s * 1e3:.1f} ms a step; memory at "
          f"half of {H100_TB_S} TB/s: {memory_s * 1e3:.1f} ms -> {1 / step_s:.0f} steps/s on the whole GPU, "
          f"{seconds / step_s / runs:.0f} steps for each of {runs} runs in {seconds:g} s")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "cc0"))
    p.add_argument("--sets", default="Bark014,Bricks102,Grass004,Rock058", help="sets to train on (empty: all)")
    p.add_argument("--max-side", type=int, default=512)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--crop", type=int, default=128)
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--log-every", type=int, default=50)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--no-profile", action="store_true")
    p.add_argument("--rows", type=int, default=12, help="rows of the profiler's table (0: none)")
    p.add_argument("--channels", default="", help="U-Net widths (default: the trainer's)")
    p.add_argument("--h100", type=float, default=0.0, metavar="UTILISATION",
                   help="only print the FLOPs of a step at --batch and --crop and the steps an H100 window gives "
                        "at this share of its bf16 peak (e.g. 0.15)")
    p.add_argument("--window-s", type=float, default=300.0, help="training seconds of the window (--h100)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    if a.h100:
        channels = [int(c) for c in a.channels.split(",")] if a.channels else [32, 64, 96, 128, 160]
        h100_estimate(channels, a.batch, a.crop, a.h100, 4, a.window_s)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        session = make_session(a, Path(tmp) / "run")
        clock = Clock()
        instrument(session, clock)
        run(session, a.warmup, a.log_every, clock)
        clock.seconds.clear()
        seconds = run(session, a.steps, a.log_every, clock)
        print(f"batch {a.batch}, crop {a.crop}, widths {session.opts.channels}, {a.threads} thread(s), "
              f"torch {torch.__version__}")
        report(clock, seconds, a.steps)
        if not a.no_profile:
            profile_table(session, clock, a.log_every, max(2, a.steps // 4), a.rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
