"""Joined patches (core.synthesis.quilt, the default of the synthesis models): time and memory as a user waits.

    .venv/bin/python benchmarks/joined.py [--models stone_wall,cobblestones] [--sizes 1024,4096] [--repeats 5]

Per model and size, each in a fresh process (so its peak resident memory is its own):
* end to end: `python -m blender_texgan generate --model M --size N --engine numpy` (load, analysis,
  synthesis, normals, every PNG written), as the terminal user waits; for 1024 also the first call;
* warm: generate() again in one process, median of --repeats (the add-on's case: the model is loaded);
* where the time goes, warm: analysis, synthesis, the height in the gradient domain and its coarse
  bands matched to the exemplar's, reading the other maps through the field, normals, PNG encoding (for a
  model whose default is tiling and blending: its analysis, synthesis, normals, PNG encoding)
  (the map set's files side by side, as the terminal writes them); peak memory is the child's own
  high-water mark (VmHWM).
Targets (issue 22): 1024 warm <= 0.5 s, first call <= 1.0 s; 4096 <= 6 s and 8192 <= 25 s end to end,
<= 3 GB peak.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHILD = r"""
import json, os, statistics, sys, tempfile, time
from pathlib import Path
import numpy as np
model, size, repeats = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
t0 = time.perf_counter()
from blender_texgan.__main__ import main
with tempfile.TemporaryDirectory() as out:
    code = main(["generate", "--model", model, "--size", str(size), "--engine", "numpy", "--out", out])
first = time.perf_counter() - t0
def high_water():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmHWM")) / 1024 ** 2
peak = high_water()   # the end-to-end call's own peak, before the warm runs
cpu = sum(os.times()[:2])   # CPU seconds of every thread: on a shared machine wall time is what others leave us
if not repeats:
    print(json.dumps({"code": code, "end_to_end": first, "cpu": cpu, "peak_gb": peak}))
    sys.exit()
from blender_texgan.core.maps import GENERATED_CHANNELS
from blender_texgan.core.synthesis import poisson, quilt, tiling_blend
from blender_texgan.core.synthesis.band_match import match_bands
from blender_texgan.core.png import PngSet
from blender_texgan.engine.generate import (GenerationRequest, banded_normals, generate, load_runner, pick_mode,
                                            read_maps, resolve_model, split_band)
runner = load_runner(resolve_model(model), "numpy")
warm = []
for seed in range(1, repeats + 1):
    a = time.perf_counter(); generate(GenerationRequest(model, size, seed, engine="numpy")); warm.append(time.perf_counter() - a)
ex, block = runner.exemplar, runner.exemplar_block
stages = {}
def stage(name, work):
    a = time.perf_counter(); out = work(); stages[name] = time.perf_counter() - a
    return out
if pick_mode("auto", runner) == "blend":   # the model's default is tiling and blending: its stages
    an = stage("analysis (tiling and blending)", lambda: tiling_blend.analyse(ex))
    maps = {name: np.empty((size, size, count), np.float32) for name, count in GENERATED_CHANNELS}
    stage("synthesis", lambda: tiling_blend.synthesize(an, size, size, 7, write=lambda y0, y1, b: split_band(b, maps, y0)))
    maps["normal"] = stage("normals", lambda: banded_normals(maps["height"][..., 0], 4.0))
else:
    an = stage("analysis", lambda: quilt.analyse(ex, periods=block.get("lattice"), element=block.get("element")))
    coords = stage("synthesis", lambda: quilt.synthesize(an, size, size, 7))
    height = stage("height (Poisson)", lambda: poisson.poisson_join(ex[..., 3], coords))
    height = stage("height bands", lambda: match_bands(height, runner.height_bands, overwrite=True))[..., None]
    maps = stage("read through field", lambda: read_maps(ex, coords, False))
    maps["normal"] = stage("normals", lambda: banded_normals(height[..., 0], 4.0))
    maps["height"] = height
    del coords
with tempfile.TemporaryDirectory() as out:
    def write():
        with PngSet() as files:
            files.add_all([(Path(out) / f"{k}.png", m, 16 if k == "height" else 8) for k, m in maps.items()])
    stage("PNG encoding (threads)", write)
print(json.dumps({"code": code, "end_to_end": first, "cpu": cpu, "warm": statistics.median(warm), "stages": stages,
                  "peak_gb": peak}))
"""


PYCACHE = Path(tempfile.gettempdir()) / "texgan-joined-pycache"


def child_env(bytecode: bool) -> dict:
    """The child's environment: with `bytecode`, Python's compiled modules kept (in a folder of their own,
    outside the tree) as an installed add-on has them; without, every module compiled at each start
    (PYTHONDONTWRITEBYTECODE, as this machine's shells set it)."""
    env = dict(os.environ)
    if bytecode:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    else:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


SPIN = "import time\nt = time.perf_counter()\nx = 0\nfor i in range(6_000_000):\n    x += i * i\nprint(time.perf_counter() - t)"


def machine_check() -> str:
    """How quiet the machine is: a fixed pure-Python loop alone, then two side by side (1.00x: both cores
    free; this sandbox's cores are shared with other machines, and their speed drifts during a day)."""
    alone = float(subprocess.run([sys.executable, "-c", SPIN], capture_output=True, text=True).stdout)
    pair = [subprocess.Popen([sys.executable, "-c", SPIN], stdout=subprocess.PIPE, text=True) for _ in range(2)]
    both = max(float(p.communicate()[0]) for p in pair)
    return f"# machine check: a fixed loop {alone:.2f} s alone, {both:.2f} s two side by side ({both / alone:.2f}x)"


def run(model: str, size: int, repeats: int, bytecode: bool = True) -> dict:
    done = subprocess.run([sys.executable, "-c", CHILD, model, str(size), str(repeats)], cwd=ROOT,
                          capture_output=True, text=True, timeout=1800, env=child_env(bytecode))
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="stone_wall,cobblestones")
    parser.add_argument("--sizes", default="1024,4096")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--end-to-end", action="store_true", help="only the first call (no warm runs, no stages)")
    parser.add_argument("--runs", type=int, default=1,
                        help="end-to-end runs per model and size, each in a fresh process (median and all printed)")
    parser.add_argument("--no-bytecode", action="store_true",
                        help="compile every module at each start (default: compiled modules kept, as installed)")
    args = parser.parse_args(argv)
    bytecode = not args.no_bytecode
    if bytecode:   # compile once, so the first call below is a first generation, not a first install
        subprocess.run([sys.executable, "-c", "import blender_texgan.__main__, blender_texgan.engine.generate"],
                       cwd=ROOT, env=child_env(True), check=True)
    print(f"# benchmarks/joined.py, {time.strftime('%Y-%m-%d')}, numpy engine, "
          f"{len(os.sched_getaffinity(0))} CPU cores, modules {'compiled' if bytecode else 'compiled at each start'}")
    print(machine_check(), flush=True)
    for model in args.models.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            r = run(model, size, 0 if args.end_to_end else 1 if size > 2048 else args.repeats, bytecode)
            if "error" in r:
                print(f"{model} {size}: failed: {r['error']}")
                continue
            line = (f"{model} {size}: end to end (first call, all PNGs written) {r['end_to_end']:.2f} s "
                    f"({r['cpu']:.2f} CPU s), peak {r['peak_gb']:.2f} GB")
            if args.runs > 1:
                more = [r] + [run(model, size, 0, bytecode) for _ in range(args.runs - 1)]
                ends = [m["end_to_end"] for m in more if "error" not in m]
                line += (f"; {len(ends)} runs: median {statistics.median(ends):.2f} s (" +
                         " ".join(f"{e:.2f}" for e in ends) + "), CPU s " +
                         " ".join(f"{m['cpu']:.2f}" for m in more if "error" not in m) +
                         f", peak {max(m['peak_gb'] for m in more if 'error' not in m):.2f} GB")
            if "stages" in r:
                parts = ", ".join(f"{k} {v:.2f}" for k, v in r["stages"].items())
                line += f"; warm generate() median {r['warm']:.2f} s; warm stages (s): {parts}"
            print(line, flush=True)
    print(machine_check())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
