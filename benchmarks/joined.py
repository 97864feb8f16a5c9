"""Joined patches (core.quilt, the default of the synthesis models): time and memory as a user waits.

    .venv/bin/python benchmarks/joined.py [--models stone_wall,cobblestones] [--sizes 1024,4096] [--repeats 5]

Per model and size, each in a fresh process (so its peak resident memory is its own):
* end to end: `python -m blender_texgan generate --model M --size N --engine numpy` (load, analysis,
  synthesis, normals, every PNG written), as the terminal user waits; for 1024 also the first call;
* warm: generate() again in one process, median of --repeats (the add-on's case: the model is loaded);
* where the time goes, warm: analysis, synthesis, reading the maps through the field, the height
  in the gradient domain, normals, PNG encoding.
Targets (issue 22): 1024 warm <= 0.5 s, first call <= 1.0 s; 4096 <= 6 s and 8192 <= 25 s end to end,
<= 3 GB peak.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np
model, size, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
from blender_texgan.__main__ import main
with tempfile.TemporaryDirectory() as out:
    code = main(["generate", "--model", model, "--size", str(size), "--engine", "numpy", "--out", out])
first = time.perf_counter() - t0
from blender_texgan.core import quilt
from blender_texgan.core.maps import complete_map_set, split_channels
from blender_texgan.core.png import PngSet, write_png
from blender_texgan.core.refine import apply_field
from blender_texgan.engine.generate import (GenerationRequest, JOIN_CONTRAST, REFINE_SOFTEN, generate,
                                            load_runner, pick_engine, resolve_model)
runner = load_runner(resolve_model(model), "numpy")
warm = []
for seed in range(1, repeats + 1):
    a = time.perf_counter(); generate(GenerationRequest(model, size, seed, engine="numpy")); warm.append(time.perf_counter() - a)
ex, block = runner.exemplar, runner.exemplar_block
stages = {}
a = time.perf_counter(); an = quilt.analyse(ex, periods=block.get("lattice"), element=block.get("element")); stages["analysis"] = time.perf_counter() - a
a = time.perf_counter(); coords = quilt.synthesize(an, size, size, 7); stages["synthesis"] = time.perf_counter() - a
a = time.perf_counter(); stack = apply_field(ex, coords, soften=REFINE_SOFTEN, periodic=False, preserve=JOIN_CONTRAST); stages["read through field"] = time.perf_counter() - a
a = time.perf_counter(); stack[..., 3] = quilt.poisson_height(ex[..., 3], coords); stages["height (Poisson)"] = time.perf_counter() - a
a = time.perf_counter(); maps = complete_map_set(split_channels(np.moveaxis(stack, -1, 0)), 4.0); stages["normals"] = time.perf_counter() - a
with tempfile.TemporaryDirectory() as out:
    a = time.perf_counter()
    for name, m in maps.items():
        write_png(Path(out) / f"{name}.png", m, bits=16 if name == "height" else 8)
    stages["PNG encoding, one map after another"] = time.perf_counter() - a
peak = next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024 ** 2
print(json.dumps({"code": code, "end_to_end": first, "warm": statistics.median(warm), "stages": stages, "peak_gb": peak}))
"""


def run(model: str, size: int, repeats: int) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, model, str(size), str(repeats)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="stone_wall,cobblestones")
    parser.add_argument("--sizes", default="1024,4096")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"# benchmarks/joined.py, {time.strftime('%Y-%m-%d')}, numpy engine, "
          f"{len(__import__('os').sched_getaffinity(0))} CPU cores")
    for model in args.models.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            r = run(model, size, 1 if size > 2048 else args.repeats)
            if "error" in r:
                print(f"{model} {size}: failed: {r['error']}")
                continue
            parts = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
            print(f"{model} {size}: end to end (first call, all PNGs written) {r['end_to_end']:.2f} s, "
                  f"warm generate() median {r['warm']:.2f} s, peak {r['peak_gb']:.2f} GB; warm stages (s): {parts}",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
