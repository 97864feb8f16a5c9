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


def test_a_time_boxed_run_checkpoints_by_the_clock_and_leaves_a_model(tmp_path):
    from trainer.__main__ import main
    from trainer.checkpoints import list_checkpoints
    from trainer.loop import run_steps
    from trainer.translator import TranslatorSession
    from trainer.translator_options import TranslatorOptions, validate_translator

    assert main(["data", "--preset", "bricks", "--count", "2", "--size", "64", "--out", str(tmp_path / "d")]) == 0
    opts = TranslatorOptions(data=str(tmp_path / "d"), out=str(tmp_path / "run"), steps=3, batch=2, crop=48,
                             channels=[4, 8], ckpt_every=1000, ckpt_minutes=1e-9, log_every=1000, device="cpu")
    validate_translator(opts)
    session = TranslatorSession(opts, log=lambda *_: None)
    run_steps(session, opts.steps, 0, opts.log_every, opts.ckpt_every, log=lambda *_: None)
    # saved by the clock after steps 1 and 2, and at the end (two kept); a model file with each
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["ckpt-00000002.pt", "ckpt-00000003.pt"]
    assert (tmp_path / "run" / "model.safetensors").is_file()
