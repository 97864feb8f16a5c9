"""Generation latency per engine, mode and size, peak memory, Blender-side overhead, GFLOP/s vs roofline.

    .venv/bin/python benchmarks/generate.py [--model NAME] [--sizes 256,1024,4096] [--modes auto,neural]

Targets (the quality issue): a full PBR set at 1024 in <= 2.0 s with numpy and <= 1.0 s with torch on
the CPU, 4096 in <= 2 GB peak memory, a 256 Variations thumbnail in <= 0.2 s. Refined mode's first
call per model also analyses the exemplar (timed separately: "analysis s").

Each (engine, size) runs in a fresh process so its peak resident memory is its own. The roofline
is the best GFLOP/s of one large 3x3 convolution in torch on this machine, measured in this run.
"""
from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def generator_gflop(model: str, size: int) -> float:
    """Convolution FLOPs of one generation (2 x multiply-adds), from the architecture."""
    from blender_texgan.core.arch.vae import decoder_config
    from blender_texgan.core.modelfile import read_manifest
    from blender_texgan.engine.generate import resolve_model

    cfg = decoder_config(read_manifest(resolve_model(model)))
    side = size // cfg.scale
    c = cfg.channels
    flops = 2 * side * side * 9 * cfg.latent_channels * c[0]
    for i in range(1, len(c)):
        side *= 2
        flops += 2 * side * side * 9 * (c[i - 1] * c[i] + c[i] * c[i])
    flops += 2 * side * side * c[-1] * cfg.out_channels
    return flops / 1e9


def one(engine: str, mode: str, model: str, size: int, repeats: int) -> dict:
    from blender_texgan.engine.generate import GenerationRequest, generate

    t0 = time.perf_counter()
    generate(GenerationRequest(model, 64, 0, "auto", engine, mode=mode))  # load, analyse the exemplar
    warm = time.perf_counter() - t0
    times = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        generate(GenerationRequest(model, size, seed, "auto", engine, mode=mode))
        times.append(time.perf_counter() - t0)
    return {"engine": engine, "mode": mode, "size": size, "median_s": statistics.median(times), "runs": len(times),
            "first_call_s": warm, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def roofline_gflops() -> float:
    import torch
    conv = torch.nn.Conv2d(64, 64, 3, padding=1)
    x = torch.randn(4, 64, 128, 128)
    best = float("inf")
    with torch.no_grad():
        conv(x)
        for _ in range(5):
            t0 = time.perf_counter()
            conv(x)
            best = min(best, time.perf_counter() - t0)
    return 2.0 * 4 * 64 * 128 * 128 * 64 * 9 / best / 1e9


def blender_overhead(model: str, size: int, repeats: int) -> dict:
    """Seconds to generate vs to create images, upload pixels and build nodes, in real Blender."""
    import build
    from scripts import headless
    headless.start()
    headless.install_extension(build.build(Path(__import__("tempfile").mkdtemp())))
    mod = sys.modules["bl_ext.user_default.blender_texgan.blender.operators"]
    gen_mod = sys.modules["bl_ext.user_default.blender_texgan.engine.generate"]
    prep = __import__("bl_ext.user_default.blender_texgan.core.prepare", fromlist=["prepare_maps"])
    opts = __import__("bl_ext.user_default.blender_texgan.core.options", fromlist=["MaterialOptions"])
    gen_mod.generate(gen_mod.GenerationRequest(model, 64, 0))
    runs = []
    for seed in range(repeats):
        t0 = time.perf_counter()
        maps, manifest = gen_mod.generate(gen_mod.GenerationRequest(model, size, seed))
        t1 = time.perf_counter()
        prepared = prep.prepare_maps(maps, opts.MaterialOptions())  # PNG encoding, on the worker thread
        t2 = time.perf_counter()
        material = mod.build_material(prepared, manifest, seed)
        t3 = time.perf_counter()
        assert material.node_tree is not None
        runs.append({"generate_s": t1 - t0, "encode_s": t2 - t1, "blender_s": t3 - t2,
                     "overhead_share": (t3 - t1) / (t3 - t0), "main_thread_share": (t3 - t2) / (t3 - t0)})
    return {"size": size, "runs": repeats, **{k: statistics.median(r[k] for r in runs) for k in runs[0]}}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=None, help="model name or file (default: the add-on's default)")
    parser.add_argument("--sizes", default="256,1024,4096")
    parser.add_argument("--engines", default="torch,numpy")
    parser.add_argument("--modes", default="auto,neural")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--one", nargs=3, metavar=("ENGINE", "MODE", "SIZE"), help=argparse.SUPPRESS)
    parser.add_argument("--overhead", type=int, metavar="SIZE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.model is None:
        from blender_texgan.engine.generate import default_model_name
        args.model = default_model_name()
    if args.one:
        size = int(args.one[2])
        print(json.dumps(one(args.one[0], args.one[1], args.model, size, 1 if size >= 4096 else args.repeats)))
        return 0
    if args.overhead:
        print(json.dumps(blender_overhead(args.model, args.overhead, args.repeats)))
        return 0

    roof = roofline_gflops()
    print(f"3x3-conv roofline (torch, 64->64, 4x128x128): {roof:.1f} GFLOP/s")
    print(f"{'engine':7s} {'mode':8s} {'size':>5s} {'median s':>9s} {'peak MB':>8s} {'first s':>8s} "
          f"{'GFLOP':>7s} {'GFLOP/s':>8s} {'x roof':>7s}")
    for mode in args.modes.split(","):
        for engine in args.engines.split(","):
            for size in (int(s) for s in args.sizes.split(",")):
                out = subprocess.run([sys.executable, __file__, "--model", args.model, "--repeats", str(args.repeats),
                                      "--one", engine, mode, str(size)], capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"{engine:7s} {mode:8s} {size:5d} failed: {out.stderr.strip().splitlines()[-1:]}")
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                line = f"{engine:7s} {mode:8s} {size:5d} {r['median_s']:9.3f} {r['peak_rss_mb']:8.0f} {r['first_call_s']:8.2f}"
                if mode == "neural":  # FLOPs are the net's; refinement is integer work
                    gflop = generator_gflop(args.model, size)
                    rate = gflop / r["median_s"]
                    line += f" {gflop:7.1f} {rate:8.1f} {rate / roof:7.2f}"
                print(line)
    out = subprocess.run([sys.executable, __file__, "--model", args.model, "--overhead", "2048",
                          "--repeats", str(args.repeats)], capture_output=True, text=True)
    if out.returncode == 0:
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"Blender-side overhead at 2048 (torch engine), medians of {r['runs']}: generation "
              f"{r['generate_s']:.2f} s, PNG encoding on the worker {r['encode_s']:.2f} s, images, packing "
              f"and nodes on the main thread {r['blender_s']:.3f} s: {100 * r['overhead_share']:.1f}% "
              f"overhead, {100 * r['main_thread_share']:.1f}% on the main thread (goal <= 15%)")
    else:
        print("Blender overhead measurement failed:", out.stderr.strip().splitlines()[-1:])
    return 0


if __name__ == "__main__":
    sys.exit(main())
