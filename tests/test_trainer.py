"""The trainer: periodic augmentation and losses, config, resume after a crash, Ctrl-C, DDP on gloo."""
from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import REFERENCE_RUN_ARGS, TINY_TRAIN, StderrWatcher

from blender_texgan.core.maps import stack_channels
from blender_texgan.core.tiling import looks_periodic
from trainer.augment import augment
from trainer.discriminator import PatchDiscriminator
from trainer.losses import d_hinge, r1_penalty, sliced_patch_loss, sorted_columns
from trainer.procedural import make_material

ROOT = Path(__file__).resolve().parent.parent
TINY = TINY_TRAIN


def periodic_batch(n=4, size=64):
    return torch.from_numpy(np.stack([stack_channels(make_material("bricks", i, size)) for i in range(n)]))


def test_augmentation_keeps_periodicity():
    x = periodic_batch()
    out = augment(x, torch.Generator().manual_seed(0), p=1.0)
    assert not torch.equal(out, x)
    for img in out.numpy():
        assert looks_periodic(np.moveaxis(img, 0, -1))


def test_discriminator_is_roll_equivariant_so_losses_see_no_border():
    torch.manual_seed(0)
    D = PatchDiscriminator(5, width=8).eval()
    x = periodic_batch(2)
    with torch.no_grad():
        logits = D(x)
        rolled = D(torch.roll(x, (16, 32), dims=(2, 3)))  # the D downsamples by 16
    torch.testing.assert_close(rolled, torch.roll(logits, (1, 2), dims=(2, 3)), atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(d_hinge(rolled, -rolled), d_hinge(logits, -logits))


def test_r1_gradient_is_periodic_and_positive():
    torch.manual_seed(0)
    D = PatchDiscriminator(5, width=8).eval()  # eval: spectral norm's power iteration stays put
    x = periodic_batch(2)
    penalty = r1_penalty(D, x)
    assert penalty.item() > 0
    penalty_rolled = r1_penalty(D, torch.roll(x, (16, 16), dims=(2, 3)))
    torch.testing.assert_close(penalty, penalty_rolled, atol=1e-5, rtol=1e-3)


def test_band_patch_loss_sees_faint_fine_noise_that_the_pixel_loss_misses():
    """A smooth height map covered with fine noise of amplitude 0.01 (what the nearest-upsampling
    generator did on photographs: finest-level height SWD 20-30x real-vs-real)."""
    real = periodic_batch(8)
    t = torch.arange(real.shape[-1]) * 2 * math.pi / real.shape[-1]
    for i in range(len(real)):
        real[i, 3] = 0.5 + 0.2 * torch.sin(t[:, None] + i) * torch.cos(2 * t[None, :] + i)
    real_a, real_b = real[:4], real[4:]
    noisy = real_a.clone()
    noisy[:, 3] += 0.01 * torch.randn(noisy[:, 3].shape, generator=torch.Generator().manual_seed(1))
    ratio = {}
    for space in ("pixels", "bands"):
        same = sliced_patch_loss(real_a, real_b, torch.Generator().manual_seed(0), space=space)
        ratio[space] = float(sliced_patch_loss(noisy, real_b, torch.Generator().manual_seed(0), space=space) / same)
    assert ratio["bands"] > 1.6 and ratio["pixels"] < 1.1


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sorted_columns_is_torch_sort_in_values_and_gradients(dtype):
    """The patch loss's sort (numpy's order on a CPU, a gather for the gradients) against torch.sort."""
    x = torch.randn(300, 16, generator=torch.Generator().manual_seed(1), dtype=dtype)
    weights = torch.rand(300, 16, generator=torch.Generator().manual_seed(2), dtype=dtype)
    ours, theirs = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    a, b = sorted_columns(ours), torch.sort(theirs, dim=0)[0]
    assert torch.equal(a, b) and torch.equal(sorted_columns(x), b)   # with and without gradients
    (a * weights).sum().backward(), (b * weights).sum().backward()
    assert torch.equal(ours.grad, theirs.grad) and ours.grad.abs().sum() > 0


def test_band_pyramid_is_the_metrics_pyramid():
    from trainer.losses import laplacian_bands
    from trainer.metrics import laplacian_pyramid

    x = torch.rand(2, 5, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for ours, metric in zip(laplacian_bands(x, 3), laplacian_pyramid(x.numpy(), 4)[:3]):
        np.testing.assert_allclose(ours.numpy(), metric, atol=1e-12)

@pytest.mark.parametrize("space", ["pixels", "bands"])
def test_patch_loss_tells_real_from_noise_and_trains_a_periodic_generator(space):
    from blender_texgan.core.arch.generator import PeriodicGeneratorConfig
    from blender_texgan.engine.nets.generator import build_generator

    real_a, real_b = periodic_batch(4), periodic_batch(8)[4:]
    g = torch.Generator().manual_seed(0)
    same = sliced_patch_loss(real_a, real_b, g, space=space)
    noise = sliced_patch_loss(torch.rand_like(real_a), real_b, g, space=space)
    tinted = sliced_patch_loss(torch.cat([real_a[:, :3] * 0.7, real_a[:, 3:]], 1), real_b, g, space=space)
    assert noise > 3 * same and tinted > 1.5 * same
    torch.manual_seed(0)
    G = build_generator(PeriodicGeneratorConfig(latent_channels=4, channels=(8, 8)))
    z = torch.randn(4, 4, 8, 8)
    target = real_b[:, :, :16, :16]
    sliced_patch_loss(G(z), target, g, space=space).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in G.parameters())
    opt = torch.optim.Adam(G.parameters(), lr=1e-2)
    before = sliced_patch_loss(G(z), target, torch.Generator().manual_seed(5), space=space).item()
    for _ in range(30):
        opt.zero_grad()
        sliced_patch_loss(G(z), target, g, space=space).backward()
        opt.step()
    assert sliced_patch_loss(G(z), target, torch.Generator().manual_seed(5), space=space).item() < 0.7 * before


def test_a_run_refuses_to_resume_with_another_generator(run_copy, capsys):
    run = run_copy  # two steps of SHORT_RUN_ARGS
    options = (run / "options.json").read_text()
    wider = [a if a != "16,12,8" else "16,12,12" for a in TINY]
    _, err = trainer_main(capsys, "train", "--preset", "bricks", "--out", run, "--steps", "3", "--eval-every", "0",
                          *wider, code=2)
    assert "use a new run folder" in err
    assert len(err.strip().splitlines()) == 1
    assert (run / "options.json").read_text() == options  # the run's record is untouched


def run_trainer(*args, check=True, **kw):
    result = subprocess.run([sys.executable, "-m", "trainer", *args], cwd=ROOT, capture_output=True,
                            text=True, **kw)
    if check and result.returncode != 0:
        pytest.fail(f"trainer {args} exited {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def trainer_main(capsys, *args, code=0) -> tuple[str, str]:
    """`python -m trainer ARGS` run in this process (torch is imported once): (stdout, stderr)."""
    from trainer.__main__ import main

    result = main([str(a) for a in args])
    captured = capsys.readouterr()
    assert result == code, f"trainer {args} exited {result}, expected {code}:\n{captured.err[-3000:]}"
    return captured.out, captured.err


def test_config_file_and_flags_resolve_in_order(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('[train]\nsteps = 77\nbatch = 3\ncrop = 64\n')
    out, _ = trainer_main(capsys, "train", "--config", config, "--out", tmp_path / "r", "--batch", "5", "--dry-run")
    opts = json.loads(out)
    assert (opts["steps"], opts["batch"], opts["crop"]) == (77, 5, 64)
    assert not (tmp_path / "r").exists()  # a dry run writes nothing
    config.write_text('[train]\nstepz = 1\n')
    _, err = trainer_main(capsys, "train", "--config", config, "--out", tmp_path / "r", "--dry-run", code=2)
    assert "unknown options: stepz" in err


def _final_weights(run: Path) -> dict:
    ckpt = sorted((run / "checkpoints").glob("ckpt-*.pt"))[-1]
    return torch.load(ckpt, weights_only=True)


def test_resume_after_kill_continues_the_same_run(reference_run, tmp_path):
    crashed = tmp_path / "crashed"
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", "--out", str(crashed), *REFERENCE_RUN_ARGS],
                            cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not list((crashed / "checkpoints").glob("ckpt-*.pt")):
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    saved = sorted((crashed / "checkpoints").glob("ckpt-*.pt"))
    assert saved, "no checkpoint before the kill"
    for ckpt in saved:
        torch.load(ckpt, weights_only=True)  # every checkpoint left behind is complete
    resumed = run_trainer("train", "--out", str(crashed), *REFERENCE_RUN_ARGS)
    assert "resuming" in resumed.stderr

    a, b = _final_weights(reference_run), _final_weights(crashed)
    assert a["step"] == b["step"] == 40
    for key in ("G", "D", "ema"):
        for name in a[key]:
            torch.testing.assert_close(a[key][name], b[key][name], atol=0, rtol=0, msg=f"{key}.{name}")


def test_ctrl_c_saves_and_exits_cleanly(tmp_path):
    run = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", "--preset", "bricks", "--out", str(run),
                             "--steps", "100000", "--ckpt-every", "100000", "--sample-every", "100000",
                             "--eval-every", "0", *TINY], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    watcher = StderrWatcher(proc)
    watcher.wait_for_steps(1)  # a whole step done (its log line may still sit in the file's buffer)
    proc.send_signal(signal.SIGINT)
    err = watcher.finish(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and "interrupted: saved step" in err
    state = _final_weights(run)
    assert 0 < state["step"] < 100000


def test_eval_separates_a_model_from_its_data(short_run, tmp_path, capsys):
    model = tmp_path / "m.safetensors"
    trainer_main(capsys, "export", short_run, "--out", model)  # two steps of SHORT_RUN_ARGS
    out, _ = trainer_main(capsys, "eval", model, "--preset", "bricks", "--count", "8", "--json", "--mode", "neural")
    metrics = json.loads(out)
    assert set(metrics) >= {"swd", "swd_ratio", "seam_ratio", "diversity_ratio", "bandpass_albedo", "coarse_swd"}
    assert metrics["swd_ratio"] > 2.0  # two steps of training are far from real bricks
    assert metrics["seam_ratio"] < 1.3  # but seamless by construction
    assert set(metrics["baseline"]) >= {"swd_ratio", "bandpass_albedo", "coarse_swd"}
    refined = json.loads(trainer_main(capsys, "eval", model, "--preset", "bricks", "--count", "8", "--json",
                                      "--mode", "random", "--sheet", tmp_path / "sheet.png")[0])
    assert refined["swd_ratio"] < 0.5 * metrics["swd_ratio"]  # the exemplar carries the detail
    assert refined["seam_ratio"] < 1.3 and refined["verbatim_fraction"] <= 0.5
    assert (tmp_path / "sheet.png").stat().st_size > 10_000
    assert 0 < refined["cut_albedo"] < 5 and 0 < refined["cut_height"] < 5  # how much the patch borders show
    from PIL import Image
    assert Image.open(tmp_path / "sheet.png").size[1] > 2 * 512  # the 1:1 rows: albedo and normal crops
    from blender_texgan.core.modelfile import read_manifest
    manifest = read_manifest(model)  # export measured the net alone and every mode beside the baseline
    assert manifest["metrics"]["neural"]["swd_ratio"] > 2.0
    assert {"neural", "random", "refined", "baseline"} <= set(manifest["quality"])
    from trainer.quality import QUALITY_SEEDS
    assert all(manifest["quality"][m]["seeds"] == len(QUALITY_SEEDS) >= 2 for m in ("random", "baseline"))
    assert manifest["exemplar"]["default_mode"] in ("refined", "random", "blend")
    assert all(isinstance(v, int) and v > 0 for v in manifest["exemplar"]["element"])  # measured once, at export


def test_maps_missing_from_an_albedo_only_photo_come_out_constant(tmp_path, capsys):
    """One grey photo: height and roughness are constant in the data, so the model makes them
    exactly constant (a consistent flat set) instead of giving the discriminator an easy tell."""
    from PIL import Image

    from blender_texgan.engine.generate import GenerationRequest, generate
    from trainer.procedural import periodic_noise

    photos = tmp_path / "photos"
    photos.mkdir()
    grey = 0.5 + 0.2 * periodic_noise(np.random.default_rng(2), 96, beta=2.0)[..., 0]
    Image.fromarray(np.uint8(np.clip(grey, 0, 1) * 255)).save(photos / "gravel.png")
    run, model = tmp_path / "run", tmp_path / "gravel.safetensors"
    trainer_main(capsys, "train", "--data", photos, "--out", run, "--steps", "3", "--eval-every", "0", *TINY)
    trainer_main(capsys, "export", run, "--out", model, "--no-metrics")
    maps, _ = generate(GenerationRequest(str(model), 64, seed=0, engine="numpy"))
    # exactly constant; 0.5 as the exemplar stores it, in 8 bits (128/255)
    assert maps["roughness"].std() < 1e-6 and abs(float(maps["roughness"].mean()) - 0.5) <= 0.5 / 255 + 1e-6
    assert maps["height"].std() < 1e-6 and np.allclose(maps["normal"][..., 2], 1.0, atol=1e-4)
    assert maps["albedo"].std() > 1e-3


def test_ddp_two_gloo_processes_stay_in_sync_and_only_rank0_writes(tmp_path):
    run = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "trainer", "train", "--preset", "bricks", "--out", str(run), "--steps", "4",
         "--ckpt-every", "2", "--sample-every", "4", "--eval-every", "0", *TINY],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(l) for l in (run / "log.jsonl").read_text().splitlines()]
    assert [l["step"] for l in lines if "step" in l] == [1, 2, 3, 4]  # one writer, not two
    sync = [l for l in lines if "ranks_in_sync" in l]
    assert sync and sync[-1]["world_size"] == 2 and sync[-1]["ranks_in_sync"] is True
    assert len(set(sync[-1]["checksums"])) == 1
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["ckpt-00000002.pt", "ckpt-00000004.pt"]
    assert sorted(p.name for p in (run / "samples").iterdir()) == ["step-00000004.png"]


def test_a_photo_becomes_a_model_with_default_options_stopped_by_ctrl_c(tmp_path):
    """The 'train your own' path as a user runs it: default options, Ctrl-C whenever, export, generate.
    The exemplar the model carries gives the detail, so even a barely trained net makes real texture."""
    from PIL import Image

    from blender_texgan.core.modelfile import read_model_file
    from blender_texgan.engine.generate import GenerationRequest, generate
    from trainer.procedural import make_material

    photos = tmp_path / "photos"
    photos.mkdir()
    albedo = make_material("cobblestones", 3, 512)["albedo"]
    Image.fromarray(np.uint8(np.clip(albedo, 0, 1) * 255)).save(photos / "wall.jpg")
    run, model = tmp_path / "run", tmp_path / "wall.safetensors"
    proc = subprocess.Popen([sys.executable, "-m", "trainer", "train", "--data", str(photos), "--out", str(run)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watcher = StderrWatcher(proc)
    watcher.wait_for_steps(1, timeout=300)  # a whole step of training done
    proc.send_signal(signal.SIGINT)
    err = watcher.finish(timeout=120)
    assert proc.returncode == 130 and "Traceback" not in err, err[-2000:]
    assert "loss_d" in (run / "log.jsonl").read_text()
    run_trainer("export", str(run), "--out", str(model), "--no-metrics")
    assert read_model_file(model).exemplar is not None
    maps, manifest = generate(GenerationRequest(str(model), 256, seed=1, engine="numpy"))
    assert looks_periodic(maps["albedo"]) and maps["albedo"].std() > 0.05
    assert json.loads((run / "options.json").read_text())["downsample"] == 0  # the scale was picked from the data
