"""Coordinate synthesis against an exemplar, read into maps: the one dispatch that refined
generation (engine.generate) and the material translator's detail step (engine.material_translation) share.

    field = synthesize_field(exemplar, analysis, block, height, width, seed, guide, periodic, device)
    stack, coords = field_rows(field, y0, y1)     # any rows, a band at a time
    stack, coords = read_whole(field)             # or all of them

On a CPU the field is synthesized (core.synthesis.refine, numpy) up to its finest corrected level and every
band expands its own rows from there, so a large output's field never exists whole; on a GPU
(engine.nets.refine_torch) it is made whole, the same field. Then, as one pass would: every patch is
snapped to the exemplar's tile lattice (when its manifest block names one), the field is rolled by
a seed-chosen offset, and the maps are read through it with the patch borders blended.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

import numpy as np

from ..core.latent import grid_offset
from ..core.maps import GENERATED_CHANNELS
from ..core.synthesis.lattice import residue_counts, snap_to_lattice
from ..core.synthesis.read_field import SOFTEN, apply_field, exemplar_stats
from ..core.synthesis.refine import GUIDE_WEIGHT, expand_rows, synthesize_coarse
from .tiled import Cancelled

REFINE_SOFTEN = SOFTEN  # patch-border blend radius: core.synthesis.read_field.SOFTEN (measured there)
# Contrast-preserving seams for albedo and roughness; height seams are plain means (smooth, no halo).
PRESERVE_CONTRAST = np.array([name != "height" for name, count in GENERATED_CHANNELS for _ in range(count)])
# The field is rolled by up to this many pixels: synthesis lays tiles on a grid that starts at pixel
# 0, so unrolled the wrap border always falls on tile borders (seam ratio 1.12 on stone, 0.98 rolled).
FIELD_ROLL = 64
BAND_ROWS = 256  # rows read at a time (an 8192 px band of 5 float32 channels: 42 MB)
FIELD_HALO = REFINE_SOFTEN + 1  # rows of the field a band reads beyond its own: the patch-border blend's reach


@dataclass(frozen=True)
class Field:
    """A synthesized coordinate field, read a band of rows at a time (field_rows)."""
    exemplar: np.ndarray                         # (h, w, 5) the maps read through the field
    periodic: bool                               # reads wrap on the exemplar (else clamp)
    height: int
    width: int
    rows_of: Callable[[np.ndarray], np.ndarray]  # unrolled field rows (wrapped indices) -> (n, W, 2)
    roll: tuple[int, int]
    lattice: tuple[int, int]
    counts: tuple | None                         # the whole field's lattice residue counts
    stats: tuple                                 # core.synthesis.read_field.exemplar_stats of the exemplar


def synthesize_field(exemplar: np.ndarray, analysis, block: dict, height: int, width: int, seed: int,
                     guide: np.ndarray | None, periodic: bool, device=None, should_stop=None,
                     guide_weight: float = GUIDE_WEIGHT, band: int = BAND_ROWS) -> Field:
    """Coordinate synthesis of a periodic height x width texture against an (h, w, 5) exemplar
    (core.synthesis.refine with its `analysis`), laid out by an (gh, gw, 5) guide when one is given (else
    free). `block` is the exemplar's manifest block (its lattice); device: a torch device, whose
    GPU makes the field whole. should_stop: checked once the field is made (-> Cancelled)."""
    if device is not None and device.type != "cpu":  # the same field, on the GPU
        from .nets.refine_torch import synthesize_torch
        coords = synthesize_torch(analysis, height, width, seed, guide=guide, device=device,
                                  guide_weight=guide_weight)
        rows_of = coords.__getitem__
    else:  # on a CPU numpy's integer ops beat torch's (and give the very same field)
        coarse = synthesize_coarse(analysis, height, width, seed, guide, guide_weight=guide_weight)
        rows_of = partial(expand_rows, coarse)
    if should_stop and should_stop():
        raise Cancelled()
    lattice = tuple(int(p) for p in (block.get("lattice") or (0, 0)))
    counts = None
    if any(lattice):  # a regular texture: every patch on the tile lattice of the whole field
        for y0 in range(0, height, band):
            rows = np.arange(y0, min(height, y0 + band))
            part = residue_counts(rows_of(rows), lattice, rows)
            counts = part if counts is None else tuple(None if a is None else a + b for a, b in zip(counts, part))
    roll = grid_offset(seed, min(FIELD_ROLL, height, width))
    return Field(exemplar, bool(periodic), height, width, rows_of, roll, lattice, counts, exemplar_stats(exemplar))


def field_rows(field: Field, y0: int, y1: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows y0..y1 of the maps read through the field -> ((n, W, 5) stack in [0, 1], (n, W, 2)
    int32 exemplar coordinates). The band is read with FIELD_HALO rows of the field beyond
    each side, so the blend of patch borders sees what it would in the whole field (equal, tested)."""
    margin = FIELD_HALO
    rows = (np.arange(y0 - margin, y1 + margin) - field.roll[0]) % field.height
    coords = field.rows_of(rows)
    if field.counts is not None:
        coords = snap_to_lattice(coords, field.lattice, field.exemplar.shape[:2], field.periodic, rows=rows,
                                 height=field.height, counts=field.counts)
    coords = np.roll(coords, field.roll[1], axis=1)
    stack = apply_field(field.exemplar, coords, soften=REFINE_SOFTEN, periodic=field.periodic,
                        preserve=PRESERVE_CONTRAST, stats=field.stats)
    keep = slice(margin, margin + y1 - y0)
    return np.clip(stack[keep], 0.0, 1.0), coords[keep]


def read_whole(field: Field, band: int = BAND_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """Every row of the field -> ((H, W, 5) stack, (H, W, 2) int32 coordinates)."""
    parts = [field_rows(field, y0, min(field.height, y0 + band)) for y0 in range(0, field.height, band)]
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
