"""Engines: numpy parity with torch, exact tiled inference, periodic 8192 output, jobs and cancel."""
from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import torch

from blender_texgan.core.arch.generator import PeriodicGeneratorConfig
from blender_texgan.core.latent import LatentLayout
from blender_texgan.core.modelfile import write_model_file
from blender_texgan.core.tiling import looks_periodic
from blender_texgan.engine import generate as gen
from blender_texgan.engine.generate import GenerationRequest, generate
from blender_texgan.engine.jobs import CANCELLED, DONE, FAILED, JobRunner
from blender_texgan.engine.nets.generator import build_generator
from blender_texgan.engine.nets.numpy_generator import NumpyGenerator
from blender_texgan.engine.tiled import receptive_halo, run_tiled


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
@pytest.mark.parametrize("channels", [(16, 12, 8), (24, 16, 12, 8, 8)])
def test_numpy_engine_matches_torch(channels, upsample):
    torch.manual_seed(1)
    cfg = PeriodicGeneratorConfig(latent_channels=9, channels=channels, upsample=upsample)
    G = build_generator(cfg).eval()
    N = NumpyGenerator(cfg, {k: v.numpy() for k, v in G.state_dict().items()})
    z = np.random.default_rng(0).standard_normal((9, 6, 5)).astype(np.float32)
    with torch.no_grad():
        expected = G(torch.from_numpy(z)[None])[0].numpy()
    assert np.abs(N(z) - expected).max() < 1e-3


@pytest.mark.parametrize("which", ["tiny_model", "tiny_nearest_model"])
def test_engines_agree_through_the_request_api(which, request):
    model = request.getfixturevalue(which)
    a, manifest = generate(GenerationRequest(str(model), 128, seed=4, engine="torch", device="cpu"))
    b, _ = generate(GenerationRequest(str(model), 128, seed=4, engine="numpy"))
    assert manifest["architecture"]["name"] == ("periodic_sgan_v1" if "nearest" in which else "periodic_sgan_v2")
    for name in a:
        assert np.abs(a[name] - b[name]).max() < 1e-3, name
        assert looks_periodic(a[name]), name


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
@pytest.mark.parametrize("tile_cells", [3, 5, 8])
def test_tiled_inference_equals_untiled(tile_cells, upsample):
    torch.manual_seed(2)
    cfg = PeriodicGeneratorConfig(latent_channels=6, channels=(12, 8, 8, 8), upsample=upsample)
    G = build_generator(cfg)
    N = NumpyGenerator(cfg, {k: v.detach().numpy() for k, v in G.state_dict().items()})
    z = np.random.default_rng(3).standard_normal((6, 16, 16)).astype(np.float32)
    full = N(z)
    tiled = run_tiled(N, z, cfg.scale, tile_cells, receptive_halo(cfg))
    assert np.abs(tiled - full).max() < 1e-5
    shifted = run_tiled(N, z, cfg.scale, tile_cells, receptive_halo(cfg), offset=(5, 11))
    assert np.abs(shifted - np.roll(full, (5, 11), axis=(1, 2))).max() < 1e-5


def _seam_strip_ok(a: np.ndarray, width: int = 32) -> bool:
    """Join the last and first `width` columns (and rows): the wrap seam must look like any line."""
    strip_x = np.concatenate([a[:512, -width:], a[:512, :width]], axis=1)
    strip_y = np.concatenate([a[-width:, :512], a[:width, :512]], axis=0)
    ok = True
    for strip, axis in ((strip_x, 1), (strip_y, 0)):
        jumps = np.abs(np.diff(strip.astype(np.float64), axis=axis)).mean(axis=tuple(i for i in range(strip.ndim) if i != axis))
        ok &= jumps[width - 1] <= jumps.max() and jumps[width - 1] < 3 * np.median(jumps)
    return bool(ok)


@pytest.mark.slow
def test_8192_output_is_periodic(tmp_path):
    torch.manual_seed(0)
    layout = LatentLayout(local_channels=3, global_channels=1, scale=2)
    cfg = PeriodicGeneratorConfig(latent_channels=layout.channels, channels=(6, 4))
    from trainer.export import build_manifest
    manifest = build_manifest("big", cfg, layout, options={"crop": 32, "batch": 1}, step=0, seconds=0,
                              normal_strength=4.0, data_description="untrained")
    path = write_model_file(tmp_path / "big.safetensors",
                            {k: v.detach().numpy() for k, v in build_generator(cfg).state_dict().items()}, manifest)
    seen = []
    maps, _ = generate(GenerationRequest(str(path), 8192, seed=0, engine="numpy"), progress=seen.append)
    assert maps["albedo"].shape == (8192, 8192, 3)
    assert len(seen) > 10 and seen[-1] == 1.0 and seen == sorted(seen)  # tiles report progress
    for name in ("albedo", "height", "normal"):
        assert _seam_strip_ok(maps[name]), name
        assert maps[name].std() > 1e-3


def test_seam_strip_check_catches_a_seam(rng):
    from trainer.procedural import periodic_noise
    field = periodic_noise(rng, 1024, beta=3.0)
    assert _seam_strip_ok(field)
    assert not _seam_strip_ok(field[:700, :700])


def test_numpy_engine_is_picked_without_torch(monkeypatch):
    monkeypatch.setattr(gen, "torch_available", lambda: False)
    assert gen.pick_engine("auto") == "numpy"
    with pytest.raises(gen.EngineUnavailable, match="numpy engine"):
        gen.pick_engine("torch")


def test_job_lifecycle_progress_and_result(tiny_model):
    runner = JobRunner()
    job = runner.submit(GenerationRequest(str(tiny_model), 1024, seed=1, engine="numpy"))
    assert job.wait(120) and job.state == DONE
    maps, manifest = job.result
    assert maps["albedo"].shape == (1024, 1024, 3) and job.progress == 1.0
    assert not runner.busy()


def test_second_request_is_refused_while_one_runs_and_cancel_stops_it(tiny_model):
    release = threading.Event()

    def slow(request, progress, should_stop):
        for i in range(1000):
            if should_stop():
                raise gen.GenerationCancelled()
            progress(i / 1000)
            release.wait(0.01)
        return generate(request)

    runner = JobRunner(slow)
    job = runner.submit(GenerationRequest(str(tiny_model), 64))
    with pytest.raises(gen.GenerationError, match="already being generated"):
        runner.submit(GenerationRequest(str(tiny_model), 64))
    deadline = time.time() + 30
    while job.progress == 0 and time.time() < deadline:  # the job is really running
        time.sleep(0.001)
    assert job.progress > 0
    job.cancel()
    assert job.wait(10) and job.state == CANCELLED and job.result is None
    release.set()  # the next job runs straight through
    following = runner.submit(GenerationRequest(str(tiny_model), 64))
    assert following.wait(30) and following.state == DONE and following.result[0]["albedo"].shape == (64, 64, 3)


def test_modal_steps_through_a_job_from_start_to_finish(tiny_model):
    from blender_texgan.engine.jobs import modal_step
    release = threading.Event()

    def gated(request, progress, should_stop):
        release.wait(10)
        return generate(request)

    runner = JobRunner(gated)
    job = runner.submit(GenerationRequest(str(tiny_model), 64))
    assert modal_step(job, "MOUSEMOVE") == "pass" and modal_step(job, "TIMER") == "progress"
    release.set()
    assert job.wait(30)
    assert modal_step(job, "TIMER") == DONE and job.result is not None
    def until_stopped(request, progress, should_stop):
        while not should_stop():
            time.sleep(0.005)
        raise gen.GenerationCancelled()

    escaped = JobRunner(until_stopped).submit(GenerationRequest(str(tiny_model), 64))
    assert modal_step(escaped, "ESC", "PRESS") == "cancel"
    escaped.cancel()
    assert escaped.wait(30) and modal_step(escaped, "TIMER") == CANCELLED

    def broken(request, progress, should_stop):
        raise gen.GenerationError("The model file is broken.")

    failed = JobRunner(broken).submit(GenerationRequest(str(tiny_model), 64))
    assert failed.wait(30) and modal_step(failed, "TIMER") == FAILED
    assert failed.error == "The model file is broken."


def test_a_failing_job_reports_one_line(tmp_path):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"nope")
    job = JobRunner().submit(GenerationRequest(str(bad), 64))
    assert job.wait(30) and job.state == FAILED and "bad.safetensors" in job.error and "\n" not in job.error


@pytest.mark.parametrize("model", ["stone_wall", "grass"])   # joined patches; tiling and blending
def test_exemplar_modes_report_progress_and_stop_when_asked(model):
    """The two exemplar modes (the defaults of every bundled model) report progress as they go and poll
    should_stop between their steps: a Cancel in Blender stops a 4096 px generation, not only a net's."""
    seen = []
    generate(GenerationRequest(model, 512, 1, engine="numpy"), progress=seen.append)
    assert len(seen) >= 3 and seen[-1] == 1.0 and all(a <= b for a, b in zip(seen, seen[1:]))
    assert any(0.0 < f < 0.9 for f in seen)   # some progress before the end
    polls = []

    def stop() -> bool:
        polls.append(1)
        return len(polls) >= 2

    with pytest.raises(gen.GenerationCancelled):
        generate(GenerationRequest(model, 512, 1, engine="numpy"), should_stop=stop)
    assert len(polls) == 2   # it stopped at the first poll that asked it to
