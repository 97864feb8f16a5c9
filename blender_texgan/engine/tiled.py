"""Tiled inference that keeps exact periodicity: each tile is computed from a latent window that
wraps around the torus, with a halo wider than the network's receptive field, and only the
tile's centre is kept. So an 8192x8192 map never needs the whole network's activations at once,
and the result equals the untiled one (tested)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np

from ..core.arch.generator import PeriodicGeneratorConfig
from .request import GenerationError

Forward = Callable[[np.ndarray], np.ndarray]  # (C, h, w) latent -> (out, h * scale, w * scale)


def receptive_halo(cfg: PeriodicGeneratorConfig) -> int:
    """Latent cells of context a tile needs on each side: the stem's 3x3 conv reaches one cell,
    block i's two 3x3 convs reach 2 / 2**i cells and its bilinear upsampling one input pixel
    (1 / 2**(i-1) cells); plus one cell of margin."""
    per_block = [2.0 / 2 ** i + (1.0 / 2 ** (i - 1) if cfg.upsample == "bilinear" else 0.0)
                 for i in range(1, len(cfg.channels))]
    return int(np.ceil(1 + sum(per_block))) + 1


class Cancelled(Exception):
    pass


def place_wrapped(out: np.ndarray, block: np.ndarray, y: int, x: int) -> None:
    """out[:, y:y+bh, x:x+bw] = block, wrapping around out's borders (no copy of `out`)."""
    _, h, w = out.shape
    _, bh, bw = block.shape
    for ys, yo in _wrapped_spans(y % h, bh, h):
        for xs, xo in _wrapped_spans(x % w, bw, w):
            out[:, ys, xs] = block[:, yo, xo]


def _wrapped_spans(start: int, length: int, size: int):
    first = min(length, size - start)
    yield slice(start, start + first), slice(0, first)
    if first < length:
        yield slice(0, length - first), slice(first, length)


def run_tiled(forward: Forward, z: np.ndarray, scale: int, tile_cells: int, halo: int,
              progress: Callable[[float], None] | None = None,
              should_stop: Callable[[], bool] | None = None, offset: tuple[int, int] = (0, 0)) -> np.ndarray:
    """Run `forward` over (C, H, W) latent `z` tile by tile; returns (out, H*scale, W*scale), rolled
    by `offset` pixels (rows, columns), which moves the wrap border off the latent-cell grid."""
    _, h, w = z.shape
    if h <= tile_cells and w <= tile_cells:
        out = forward(z)
        if progress:
            progress(1.0)
        return np.roll(out, offset, axis=(1, 2)) if any(offset) else out
    starts = [(ty, tx) for ty in range(0, h, tile_cells) for tx in range(0, w, tile_cells)]
    out = None
    for done, (ty, tx) in enumerate(starts):
        if should_stop is not None and should_stop():
            raise Cancelled
        th, tw = min(tile_cells, h - ty), min(tile_cells, w - tx)
        rows = np.arange(ty - halo, ty + th + halo) % h
        cols = np.arange(tx - halo, tx + tw + halo) % w
        y = forward(np.ascontiguousarray(z[:, rows][:, :, cols]))
        if out is None:
            out = np.empty((y.shape[0], h * scale, w * scale), np.float32)
        s = scale
        place_wrapped(out, y[:, halo * s:(halo + th) * s, halo * s:(halo + tw) * s],
                      ty * s + offset[0], tx * s + offset[1])
        if progress:
            progress((done + 1) / len(starts))
    return out


# ---------------------------------------------------------------- will it fit?

def _kib_field(path: str, key: str) -> int | None:
    """A 'Key:  N kB' line of a /proc file, in bytes; None when unreadable."""
    try:
        line = next(x for x in Path(path).read_text().splitlines() if x.startswith(key + ":"))
        return int(line.split()[1]) * 1024
    except (OSError, StopIteration, ValueError, IndexError):
        return None


def available_memory() -> int | None:
    """Bytes this process may still take: the least of the system's available memory (Linux
    MemAvailable), a cgroup's limit less its use, and an address-space limit (ulimit -v) less this
    process's size; None where none of them can be read (then nothing is refused)."""
    free = [_kib_field("/proc/meminfo", "MemAvailable")]
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit != "max":
            free.append(int(limit) - int(Path("/sys/fs/cgroup/memory.current").read_text()))
    except (OSError, ValueError):
        pass
    try:
        import resource
        soft, size = resource.getrlimit(resource.RLIMIT_AS)[0], _kib_field("/proc/self/status", "VmSize")
        if soft != resource.RLIM_INFINITY and size is not None:
            free.append(soft - size)
    except (ImportError, OSError, ValueError):
        pass
    free = [f for f in free if f is not None]
    return max(0, min(free)) if free else None


def check_memory(need: int, what: str, advice: str) -> None:
    """GenerationError (one line, before any work) when `need` bytes will not fit."""
    free = available_memory()
    if free is not None and need > free:
        raise GenerationError(f"{what} needs about {need / 2 ** 30:.1f} GB of memory and "
                              f"{free / 2 ** 30:.1f} GB is free: {advice}.")
