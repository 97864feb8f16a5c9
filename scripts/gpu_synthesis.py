"""Coordinate synthesis (core.synthesis.refine) on a torch device against numpy: the same field, and how long each
takes. Run by scripts/gpu_window.sh; prints a JSON line when the torch field is done, and another
with numpy's figures when numpy is done.

    python -m scripts.gpu_synthesis --size 4096 --device cuda [--model stone_wall] [--numpy-timeout 150]

The exemplar of a bundled model is analysed once (numpy, as the add-on does), then the field is
synthesised with the torch twin (engine.nets.refine_torch) after a small warm-up call, and with numpy in
a child process alongside, stopped after --numpy-timeout seconds (a window must finish). Exactness is
the share of pixels whose two coordinates agree (1.0: equal fields, as tests/test_refine.py requires).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import time

import numpy as np


def _numpy_field(analysis, size: int, seed: int, queue) -> None:
    from blender_texgan.core.synthesis.refine import synthesize

    t0 = time.perf_counter()
    coords = synthesize(analysis, size, size, seed)
    queue.put((time.perf_counter() - t0, coords))


def start_numpy(analysis, size: int, seed: int):
    """numpy's field in a child process, forked before torch touches the GPU; -> (child, queue)."""
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_numpy_field, args=(analysis, size, seed, queue), daemon=True)
    child.start()
    return child, queue


def numpy_result(child, queue, timeout: float):
    """(seconds, field), or (None, None) when numpy runs past the timeout (a window must finish)."""
    try:
        return queue.get(timeout=timeout)
    except Exception:  # queue.Empty
        child.terminate()
        return None, None
    finally:
        child.join(5)


def torch_field(analysis, size: int, seed: int, device: str):
    import torch

    from blender_texgan.engine.nets.refine_torch import synthesize_torch

    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    synthesize_torch(analysis, 256, 256, seed, device=device)  # warm-up: kernels, allocator
    sync()
    t0 = time.perf_counter()
    coords = synthesize_torch(analysis, size, size, seed, device=device)
    sync()
    return time.perf_counter() - t0, coords


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--size", type=int, default=4096)
    p.add_argument("--device", default="cuda")
    p.add_argument("--model", default="stone_wall", help="bundled model whose exemplar is synthesised")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--numpy-timeout", type=float, default=150.0, help="seconds numpy may take")
    a = p.parse_args(argv)
    from blender_texgan.core.modelfile import read_model_file
    from blender_texgan.core.synthesis.exemplar_analysis import analyse
    from blender_texgan.engine.library import resolve_model

    model = read_model_file(resolve_model(a.model))
    t0 = time.perf_counter()
    analysis = analyse(model.exemplar, periodic=bool((model.manifest.get("exemplar") or {}).get("periodic")))
    row = {"model": a.model, "size": a.size, "device": a.device, "analysis_s": round(time.perf_counter() - t0, 2)}
    child, queue = start_numpy(analysis, a.size, a.seed)  # runs on a CPU core while torch runs on the device
    torch_s, torch_coords = torch_field(analysis, a.size, a.seed, a.device)
    row["torch_s"] = round(torch_s, 3)
    print(json.dumps(row), flush=True)  # the device is free from here on (gpu_window.sh waits for this line)
    numpy_s, numpy_coords = numpy_result(child, queue, a.numpy_timeout)
    row["numpy_s"] = None if numpy_s is None else round(numpy_s, 2)
    if numpy_coords is not None:
        row["equal_share"] = float((numpy_coords == torch_coords).all(-1).mean())
        row["exact"] = bool(np.array_equal(numpy_coords, torch_coords))
        row["speedup"] = round(numpy_s / torch_s, 1)
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
