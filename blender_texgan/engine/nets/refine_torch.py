"""Torch twin of core.synthesis.refine's synthesis: the same field from the same analysis, on CPU, CUDA or MPS.

Everything fixed before the first pixel -- the plan, each level's tables, the guide's features --
comes from core.synthesis.refine itself (numpy, small), so both engines start from identical integers. The
per-pixel steps (tiles, upsample, jitter, correction sub-passes) are mirrored here one to one on
integer tensors: the same hashes, the same candidate order, the same exact distances, ties to the
first candidate (torch.argmin, like numpy's, returns the first minimum). The coordinates therefore
match numpy's exactly, not approximately (tests/test_refine.py checks it).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ...core.synthesis import exemplar_analysis as EA
from ...core.synthesis import refine as R
from ..devices import pick_device


@dataclass(frozen=True)
class TorchTables:
    """core.synthesis.refine.LevelTables on a device (indices as int64, features as int32)."""
    shape: tuple[int, int]
    shift: int
    limit: int
    parts: torch.Tensor
    features: torch.Tensor
    appearance: torch.Tensor
    similar: torch.Tensor
    valid_flat: torch.Tensor
    invalid: torch.Tensor | None


def to_device(tables: R.LevelTables, device: torch.device) -> TorchTables:
    """Upload one level's tables."""
    def t(a, dtype):
        """numpy -> tensor of `dtype` on the device."""
        return torch.from_numpy(np.ascontiguousarray(a)).to(device=device, dtype=dtype)
    return TorchTables(shape=tables.shape, shift=tables.shift, limit=tables.limit,
                       parts=t(tables.parts, torch.int32), features=t(tables.features, torch.int32),
                       appearance=t(tables.appearance, torch.int32), similar=t(tables.similar, torch.int64),
                       valid_flat=t(tables.valid_flat, torch.int64),
                       invalid=None if tables.invalid is None else t(tables.invalid, torch.bool))


def _arange(n: int, device) -> torch.Tensor:
    """int64 0 .. n - 1 on `device`."""
    return torch.arange(n, dtype=torch.int64, device=device)


def _floor_div(a: torch.Tensor, b: int) -> torch.Tensor:
    """a // b rounding down, as numpy does."""
    return torch.div(a, b, rounding_mode="floor")


def distances(table: torch.Tensor, query: torch.Tensor, cand: torch.Tensor) -> torch.Tensor:
    """(M, n) table, (M, m) query, (c, m) candidate indices -> (c, m) int32 squared distances."""
    acc = torch.zeros(cand.shape, dtype=torch.int32, device=cand.device)
    for j in range(table.shape[0]):
        t = table[j][cand] - query[j]
        acc += t * t
    return acc


def block_init(tables: TorchTables, seed: int, level: int, height: int, width: int, block: int,
               guide: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror of core.synthesis.refine.block_init: the coarsest level as hashed (or guide-chosen) tiles."""
    dev = tables.features.device
    h, w = tables.shape
    by, ly, bx, lx, nby, nbx = (torch.from_numpy(a).to(dev) if isinstance(a, np.ndarray) else a
                                for a in R.block_grid(height, width, block))
    tile = (by[:, None] * nbx + bx[None, :]).reshape(-1)
    nv = tables.valid_flat.shape[0]
    if guide is None:
        key = R.stream_key(seed, level, R.SALT_INIT)
        origin = tables.valid_flat[R.grid_hash(key, _arange(nby, dev)[:, None], _arange(nbx, dev)[None, :])
                                   .reshape(-1) % nv]
    else:
        key = R.stream_key(seed, level, R.SALT_POOL)
        pool = tables.valid_flat[R.grid_hash(key, _arange(nby * nbx, dev)[:, None],
                                             _arange(R.GUIDE_POOL, dev)[None, :]) % nv]
        oy = (_floor_div(pool[tile], w) + ly.repeat_interleave(width)[:, None]) % h
        ox = (pool[tile] % w + lx.repeat(height)[:, None]) % w
        err = distances(tables.appearance, guide, (oy * w + ox).T.contiguous())
        cost = torch.zeros((R.GUIDE_POOL, nby * nbx), dtype=torch.int64, device=dev)
        cost.index_add_(1, tile, err.to(torch.int64))
        origin = pool[_arange(nby * nbx, dev), cost.argmin(dim=0)]
    o = origin[tile].reshape(height, width)
    return (_floor_div(o, w) + ly[:, None]) % h, (o % w + lx[None, :]) % w


def upsample(cy: torch.Tensor, cx: torch.Tensor, shape: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror of core.synthesis.refine.upsample: child (2i + a, 2j + b) = 2 * parent + (a, b)."""
    ny = (2 * cy).repeat_interleave(2, dim=0).repeat_interleave(2, dim=1)
    nx = (2 * cx).repeat_interleave(2, dim=0).repeat_interleave(2, dim=1)
    ny[1::2] += 1
    nx[:, 1::2] += 1
    return ny % shape[0], nx % shape[1]


def jitter_field(cy: torch.Tensor, cx: torch.Tensor, shape: tuple[int, int], seed: int, level: int,
                 threshold: int, region: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """Mirror of core.synthesis.refine.jitter_field: hashed tiles of pixels moved by hashed offsets."""
    if threshold <= 0:
        return cy, cx
    dev = cy.device
    height, width = cy.shape
    key = R.stream_key(seed, level, R.SALT_JITTER)
    by, _, bx, _, _, _ = R.block_grid(height, width, region)
    rows = torch.from_numpy(by[(np.arange(height) + key % height) % height]).to(dev)
    cols = torch.from_numpy(bx[(np.arange(width) + (key >> 16) % width) % width]).to(dev)
    h = R.grid_hash(key, rows[:, None], cols[None, :])
    moved = (h & 0xFFFF) < threshold
    offset = torch.from_numpy(R.JITTER_OFFSETS).to(dev)[(h >> 16) % len(R.JITTER_OFFSETS)]
    return (torch.where(moved, (cy + offset[..., 0]) % shape[0], cy),
            torch.where(moved, (cx + offset[..., 1]) % shape[1], cx))


def _bias(dist: torch.Tensor, units: int) -> None:
    """dist += floor(dist * units / UNIT), in place and without overflow (UNIT = 8)."""
    dist += (dist >> 3) * units + (((dist & 7) * units) >> 3)


def correct_subpass(tables: TorchTables, cy: torch.Tensor, cx: torch.Tensor, phase: tuple[int, int],
                    the_plan: R.Plan, guide: torch.Tensor | None = None, cleanup: bool = False) -> None:
    """Mirror of core.synthesis.refine.correct_subpass (same candidates, order, distances and ties), in place."""
    dev = cy.device
    height, width = cy.shape
    h, w = tables.shape
    rows, cols = torch.arange(phase[0], height, 2, device=dev), torch.arange(phase[1], width, 2, device=dev)
    m, n_off, k = rows.shape[0] * cols.shape[0], len(EA.OFFSETS), tables.similar.shape[0]
    total = torch.zeros((m, tables.features.shape[0]), dtype=torch.int32, device=dev)
    cand = torch.empty((n_off * (1 + k), m), dtype=torch.int64, device=dev)
    for i, (dy, dx) in enumerate(EA.OFFSETS):
        iy, ix = ((rows + dy) % height)[:, None], ((cols + dx) % width)[None, :]
        ny, nx = cy[iy, ix].reshape(-1), cx[iy, ix].reshape(-1)
        total += tables.parts[i].index_select(0, ny * w + nx)
        cand[i] = ((ny - dy) % h) * w + (nx - dx) % w
    for j in range(k):
        cand[n_off * (1 + j):n_off * (2 + j)] = tables.similar[j][cand[:n_off]]
    cand = cand[1:n_off] if cleanup else cand
    query = torch.clamp(total >> tables.shift, -tables.limit, tables.limit).T
    dist = distances(tables.features, query, cand)
    if guide is not None and the_plan.guide:
        g = guide[:, (rows[:, None] * width + cols[None, :]).reshape(-1)]
        dist = R.UNIT * dist.to(torch.int64) + the_plan.guide * distances(tables.features, g, cand).to(torch.int64)
    if not cleanup:
        _bias(dist[n_off:], the_plan.coherence)
    if tables.invalid is not None:
        dist[tables.invalid[cand]] = torch.iinfo(dist.dtype).max
    best = cand.gather(0, dist.argmin(dim=0)[None])[0].reshape(rows.shape[0], cols.shape[0])
    cy[phase[0]::2, phase[1]::2] = _floor_div(best, w)
    cx[phase[0]::2, phase[1]::2] = best % w


def correct_level(tables: TorchTables, cy: torch.Tensor, cx: torch.Tensor, the_plan: R.Plan,
                  guide: torch.Tensor | None = None) -> None:
    """Mirror of core.synthesis.refine.correct_level."""
    for _ in range(the_plan.passes if tables.similar.shape[0] else 0):
        for phase in R.SUBPASSES:
            correct_subpass(tables, cy, cx, phase, the_plan, guide)
    for phase in R.SUBPASSES:
        correct_subpass(tables, cy, cx, phase, the_plan, guide, cleanup=True)


def synthesize_torch(analysis: EA.ExemplarAnalysis, height: int, width: int, seed: int,
                     guide: np.ndarray | None = None, device="cpu", passes: int = R.PASSES,
                     jitter: float = R.JITTER, coherence: float = R.COHERENCE, patch: float = R.PATCH,
                     guide_weight: float = R.GUIDE_WEIGHT,
                     max_correct_pixels: int = R.MAX_CORRECT_PIXELS) -> np.ndarray:
    """core.synthesis.refine.synthesize on torch: (height, width, 2) int32 numpy coordinates, equal to numpy's.

    device: a torch.device or 'auto' / 'cpu' / 'cuda' / 'mps'. The other arguments are synthesize's.
    """
    dev = device if isinstance(device, torch.device) else pick_device(device)
    p = R.plan(analysis, height, width, passes, jitter, coherence, patch, guide_weight, max_correct_pixels)
    guides = R.guide_features(analysis, guide, height, width, p) if guide is not None else None
    up = (lambda a: torch.from_numpy(np.ascontiguousarray(a)).to(dev))  # noqa: E731
    with torch.inference_mode():
        tables = to_device(R.level_tables(analysis, p.coarsest), dev)
        cy, cx = block_init(tables, seed, p.coarsest, height >> p.coarsest, width >> p.coarsest, p.block,
                            up(guides.appearance) if guides else None)
        for level in range(p.coarsest, -1, -1):
            if level < p.coarsest:
                cy, cx = upsample(cy, cx, analysis.level_shape(level))
                if level < p.finest:
                    continue
                tables = to_device(R.level_tables(analysis, level), dev)
                cy, cx = jitter_field(cy, cx, tables.shape, seed, level, p.jitter, R.JITTER_TILE)
            correct_level(tables, cy, cx, p, up(guides.features[level]) if guides else None)
        return torch.stack([cy, cx], dim=-1).to(torch.int32).cpu().numpy()
