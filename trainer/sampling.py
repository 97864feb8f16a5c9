"""Samples and measurements of a generator during training and at export: batches of crops rolled
as the add-on rolls them, 2x2-tiled sample grids (so seams would show) and the metrics of trainer.metrics."""
from __future__ import annotations

import numpy as np
import torch

from blender_texgan.core.latent import LatentLayout, grid_offset, make_latent
from blender_texgan.core.maps import complete_map_set, split_channels
from blender_texgan.core.tiling import seam_ratio, tile

from .data import TrainingData
from .metrics import evaluate, grid_ratio


def generate_batch(G, layout: LatentLayout, crop: int, count: int, seed: int, device,
                   roll: bool = True) -> np.ndarray:
    """`count` generated crops; rolled like the add-on's output (core.latent.grid_offset) unless
    `roll` is False, which keeps every wrap border on the latent-cell grid."""
    side = crop // layout.scale
    out = []
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for start in range(0, count, 16):
            z = make_latent(layout, rng, side, side, min(16, count - start))
            out.append(G(torch.from_numpy(z).to(device)).float().cpu().numpy())
    out = np.concatenate(out)
    if roll:
        out = roll_like_engine(out, seed, layout.scale)
    return out


def roll_like_engine(batch: np.ndarray, seed: int, scale: int) -> np.ndarray:
    return np.stack([np.roll(img, grid_offset(seed * 100_003 + i, scale), axis=(1, 2))
                     for i, img in enumerate(batch)])


def sample_grid(raw: np.ndarray, normal_strength: float) -> np.ndarray:
    """Samples, each tiled 2x2 so seams would show; rows: albedo | normal | height."""
    columns = []
    for r in raw:
        maps = complete_map_set(split_channels(r), normal_strength)
        h = np.repeat(maps["height"], 3, axis=-1)
        columns.append(np.concatenate([tile(maps["albedo"]), tile(maps["normal"]), tile(h)], axis=0))
    return np.concatenate(columns, axis=1)


def measure(G, layout: LatentLayout, data: TrainingData, crop: int, count: int, seed: int, device) -> dict:
    """Metrics of generated crops, rolled as the add-on rolls them, plus the grid ratio of the
    unrolled ones (where the wrap border would otherwise always lie)."""
    heldout, reference = data.metric_crops(crop, count, seed)
    fake = generate_batch(G, layout, crop, count, seed + 1, device, roll=False)
    grid = grid_ratio(fake, layout.scale)
    metrics = evaluate(roll_like_engine(fake, seed + 1, layout.scale), heldout, reference, seed=seed)
    metrics["seam_ratio_on_grid"] = float(np.mean([seam_ratio(np.moveaxis(f, 0, -1)) for f in fake]))
    metrics["grid_ratio"] = grid
    return metrics
