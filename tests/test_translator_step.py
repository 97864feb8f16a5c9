"""The translator's batched training step: crops, symmetries and lights made on the device in a few ops
give what the per-crop path (trainer.shading.turn) gives."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from trainer.pbr_sets import PbrSet
from trainer.shading import turn
from trainer.translator import Pairs, symmetric_grid, turn_vectors


def _set(name: str, h: int, w: int, seed: int) -> PbrSet:
    rng = np.random.default_rng(seed)
    n = rng.normal(size=(h, w, 3)).astype(np.float32)
    n[..., 2] = np.abs(n[..., 2]) + 0.5
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return PbrSet(name, rng.random((h, w, 3), np.float32), n, rng.random((h, w), np.float32),
                  rng.random((h, w), np.float32), rng.random((h, w), np.float32))


@pytest.mark.parametrize("k", range(8))
def test_one_gather_turns_a_crop_as_turn_does(k):
    torch.manual_seed(k)
    crop = torch.randn(1, 8, 12, 12)
    rows, cols = symmetric_grid(torch.arange(12), torch.tensor([k]))
    gathered = crop[0][:, rows[0], cols[0]][None]
    gathered = torch.cat([gathered[:, :3], turn_vectors(gathered[:, 3:6], torch.tensor([k])), gathered[:, 6:]], 1)
    assert torch.equal(gathered, turn(crop, k))


def test_a_batch_reads_real_crops_of_its_sets_turned_by_a_symmetry():
    sets = [_set("a", 40, 56, 0), _set("b", 24, 24, 1), _set("c", 16, 20, 2)]  # c is enlarged to 24
    pairs = Pairs(sets, 24, "cpu", seed=3)
    photo, maps, light = pairs.batch(32)
    assert photo.shape == (32, 3, 24, 24) and maps.shape == (32, 8, 24, 24) and light.shape == (32, 3)
    assert torch.allclose(maps[:, 3:6].norm(dim=1), torch.ones(1), atol=1e-5)
    assert torch.allclose(light.norm(dim=1), torch.ones(1), atol=1e-5) and 0 <= photo.min() and photo.max() <= 1
    windows = torch.from_numpy(sets[0].albedo).permute(2, 0, 1).unfold(1, 24, 1).unfold(2, 24, 1)  # (3, 17, 33, 24, 24)
    inverse = {5: 6, 6: 5}  # the quarter turns; every other symmetry undoes itself
    from_a = 0
    for crop in maps[:, :3]:
        unturned = [turn(torch.cat([crop[None], torch.zeros(1, 5, 24, 24)], 1), inverse.get(k, k))[0, :3]
                     for k in range(8)]
        from_a += any((windows == u[:, None, None]).all(0).all(-1).all(-1).any() for u in unturned)
    assert from_a >= 4, from_a  # about a third of 32 crops come from set a (sets are drawn by sqrt of area)
    again = Pairs(sets, 24, "cpu", seed=3).batch(32)
    assert all(torch.equal(x, y) for x, y in zip((photo, maps, light), again))
