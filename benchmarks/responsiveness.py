"""Is Blender's main thread free while a 2048x2048 material generates? Measured in real Blender.

    .venv/bin/python benchmarks/responsiveness.py [--size 2048] [--engine auto]

The add-on's job runner generates on its worker thread while the main thread wakes every 5 ms
(as Blender's event loop would) and records how late each wake-up is. The final datablock step
(images, pixels, nodes), which must run on the main thread, is timed separately. Goal: no gap
over 30 ms during generation.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import build
from scripts import headless

TICK = 0.005


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=2048)
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--model", default=None, help="model name or file (default: the add-on's default)")
    args = parser.parse_args()

    headless.start()
    headless.install_extension(build.build(Path(tempfile.mkdtemp())))
    pkg = "bl_ext.user_default.blender_texgan"
    jobs = sys.modules[f"{pkg}.engine.jobs"]
    gen = sys.modules[f"{pkg}.engine.generate"]
    ops = sys.modules[f"{pkg}.blender.operators"]
    prep = __import__(f"{pkg}.core.prepare", fromlist=["prepare_maps"])
    options = __import__(f"{pkg}.core.options", fromlist=["MaterialOptions"]).MaterialOptions()
    args.model = args.model or gen.default_model_name()
    gen.generate(gen.GenerationRequest(args.model, 64, 0, engine=args.engine))  # load the model first

    runner = jobs.JobRunner()
    t0 = time.perf_counter()
    job = runner.submit(gen.GenerationRequest(args.model, args.size, 0, engine=args.engine),
                        prepare=lambda maps: prep.prepare_maps(maps, options))
    gaps, last = [], time.perf_counter()
    while job.active:
        time.sleep(TICK)
        now = time.perf_counter()
        gaps.append(now - last - TICK)
        last = now
    generation = time.perf_counter() - t0
    if job.state != jobs.DONE:
        print(f"job ended {job.state}: {job.error}")
        return 1
    t1 = time.perf_counter()
    ops.build_material(*job.result, 0)
    datablocks = time.perf_counter() - t1
    gaps_ms = sorted(g * 1000 for g in gaps)
    print(f"{args.size}x{args.size} on engine {job.request.engine}: generation + PNG encoding "
          f"{generation:.2f} s on the worker")
    print(f"main-thread wake-ups: {len(gaps_ms)}, extra delay median {statistics.median(gaps_ms):.2f} ms, "
          f"p99 {gaps_ms[int(0.99 * (len(gaps_ms) - 1))]:.2f} ms, max {gaps_ms[-1]:.2f} ms (goal: max <= 30 ms)")
    print(f"final datablock step on the main thread: {datablocks * 1000:.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
