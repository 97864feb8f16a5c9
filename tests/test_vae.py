"""The texture VAE: its architecture in both engines, the model file, training through the trainer's
loop, encoding, variations of a texture and latent interpolation."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import TINY_CHANNELS, brick_exemplar, smooth_photo

from blender_texgan.core.arch.generator import PeriodicGeneratorConfig
from blender_texgan.core.arch.vae import VAEConfig, vae_param_shapes
from blender_texgan.core.modelfile import ModelFileError, read_model_file, write_model_file
from blender_texgan.core.tiling import looks_periodic
from blender_texgan.engine.nets.numpy_generator import NumpyEncoder
from blender_texgan.engine.nets.vae_encoder import build_vae

TINY = VAEConfig(PeriodicGeneratorConfig(latent_channels=4, channels=TINY_CHANNELS, upsample="bilinear"))


def _random_vae(seed: int = 0):
    torch.manual_seed(seed)
    vae = build_vae(TINY).eval()
    with torch.no_grad():  # a non-trivial head, so that means and variances differ from 0
        vae.encoder.head.weight.normal_(0.0, 0.3)
    return vae


def test_torch_modules_have_the_described_parameters():
    state = _random_vae().state_dict()
    assert {k: tuple(v.shape) for k, v in state.items()} == vae_param_shapes(TINY)


def test_numpy_encoder_matches_torch():
    vae = _random_vae()
    x = np.random.default_rng(0).random((5, 32, 48), dtype=np.float32)
    with torch.no_grad():
        mean, logvar = (t[0].numpy() for t in vae.encoder(torch.from_numpy(x[None])))
    tensors = {k: v.numpy() for k, v in vae.state_dict().items()}
    np_mean, np_logvar = NumpyEncoder(TINY, tensors)(x)
    assert mean.shape == (4, 8, 12)
    np.testing.assert_allclose(np_mean, mean, atol=1e-4)
    np.testing.assert_allclose(np_logvar, logvar, atol=1e-4)


def test_encoder_moves_with_the_texture_and_decoder_output_tiles():
    vae = _random_vae()
    x = torch.rand(1, 5, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        mean = vae.encoder(x)[0]
        shifted = vae.encoder(torch.roll(x, (4, 8), dims=(2, 3)))[0]  # whole latent cells (scale 4)
        torch.testing.assert_close(shifted, torch.roll(mean, (1, 2), dims=(2, 3)))
        z = torch.randn(1, 4, 6, 6, generator=torch.Generator().manual_seed(2))
        one, tiled = vae.decoder(z), vae.decoder(z.repeat(1, 1, 2, 2))
    torch.testing.assert_close(tiled, one.repeat(1, 1, 2, 2), atol=1e-5, rtol=0)
    assert looks_periodic(one[0].permute(1, 2, 0).numpy())


# ---------------------------------------------------------------- trained through the trainer

@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny VAE trained for a few hundred steps on procedural bricks, exported with metrics."""
    from trainer.export import export_run
    from trainer.options import TrainOptions
    from trainer.train import train

    folder = tmp_path_factory.mktemp("vae")
    opts = TrainOptions(out=str(folder / "run"), kind="vae", preset="bricks", steps=300, batch=4, crop=32,
                        pool_count=4, pool_size=64, channels=list(TINY_CHANNELS), local_channels=4,
                        upsample="bilinear", eval_every=0, sample_every=1000, ckpt_every=1000, eval_count=8,
                        lr_g=2e-3, ema_decay=0.9, seed=0)
    train(opts)
    return folder, export_run(folder / "run", folder / "tiny_vae.safetensors", "tiny_vae")


def test_a_trained_vae_exports_a_valid_model_with_its_metrics(trained):
    model = read_model_file(trained[1])
    assert model.manifest["kind"] == "vae"
    metrics = model.manifest["metrics"]
    for key in ("recon_l1", "recon_swd_ratio", "swd_ratio", "coarse_swd_ratio", "diversity_ratio"):
        assert np.isfinite(metrics[key]), key
    assert model.exemplar is not None and model.manifest["exemplar"]["default_mode"] in ("refined", "random", "blend")


def test_encode_decode_of_a_training_texture_comes_back_close(trained):
    """Reconstructions beat the texture's mean colour (L1), and keep its patch statistics
    (SWD ratio against held-out crops, 1 = as close as two sets of real crops)."""
    from trainer.data import preset_data

    metrics = read_model_file(trained[1]).manifest["metrics"]
    data = preset_data("bricks", 4, 64, 0)
    crops = np.stack(data.heldout)[:, :, :32, :32]
    mean_colour_l1 = float(np.abs(crops - crops.mean(axis=(2, 3), keepdims=True)).mean())
    assert metrics["recon_l1"] < 0.8 * mean_colour_l1, (metrics["recon_l1"], mean_colour_l1)
    assert metrics["recon_swd_ratio"] < 3.5, metrics["recon_swd_ratio"]  # untrained: 6.5-10


def test_both_engines_encode_alike_and_generation_runs_through_the_decoder(trained):
    from blender_texgan.engine.generate import GenerationRequest, generate, load_runner

    path = trained[1]
    maps = brick_exemplar(64)
    x = np.ascontiguousarray(np.moveaxis(maps, -1, 0))
    mean_np, _ = load_runner(path, "numpy").encode(x)
    mean_torch, _ = load_runner(path, "torch").encode(x)
    np.testing.assert_allclose(mean_np, mean_torch, atol=1e-4)
    for mode in ("neural", "refined"):
        out, manifest = generate(GenerationRequest(str(path), 64, seed=3, engine="numpy", mode=mode))
        assert manifest["kind"] == "vae" and looks_periodic(out["albedo"]), mode


def test_a_generator_cannot_encode_and_a_vae_file_missing_its_encoder_is_refused(trained, tiny_model, tmp_path):
    from blender_texgan.engine.generate import GenerationError, load_runner

    with pytest.raises(GenerationError, match="only VAE models encode"):
        load_runner(tiny_model, "numpy").encode(np.zeros((5, 16, 16), np.float32))
    model = read_model_file(trained[1])
    broken = {k: v for k, v in model.tensors.items() if k != "encoder.head.weight"}
    manifest = {k: v for k, v in model.manifest.items() if k != "format_version"}
    write_model_file(tmp_path / "broken.safetensors", broken, manifest, exemplar=model.exemplar)
    with pytest.raises(ModelFileError, match="missing weights: encoder.head.weight"):
        read_model_file(tmp_path / "broken.safetensors")


# ---------------------------------------------------------------- variations and interpolation

def _photo() -> np.ndarray:
    """A texture the VAE never saw: blurred colour noise with blobs under a light gradient."""
    return smooth_photo(96, 96, seed=5)


def test_mix_latent_walks_from_the_texture_code_to_a_prior_draw():
    from blender_texgan.engine.latent.variations import mix_latent

    rng = np.random.default_rng(0)
    mean, noise = rng.standard_normal((2, 4, 3, 3), dtype=np.float32)
    np.testing.assert_allclose(mix_latent(mean, noise, 0.0), mean, atol=1e-6)
    np.testing.assert_allclose(mix_latent(mean, noise, 1.0), noise, atol=1e-6)


def test_variations_of_a_texture_tile_differ_and_keep_its_colours(trained):
    from blender_texgan.engine.latent.variations import VariationsRequest, texture_variations

    photo = _photo()
    variants = texture_variations(photo, VariationsRequest(str(trained[1]), count=3, strength=0.7, size=64,
                                                           engine="numpy"))
    assert len(variants) == 3
    for maps in variants:
        assert maps["albedo"].shape == (64, 64, 3) and looks_periodic(maps["albedo"])
        # every pixel is read from the texture: its colours, not the VAE's bricks
        assert np.abs(maps["albedo"].mean(axis=(0, 1)) - photo.mean(axis=(0, 1))).max() < 0.08
    assert min(np.abs(a["albedo"] - b["albedo"]).mean()
               for i, a in enumerate(variants) for b in variants[i + 1:]) > 0.02


def test_latent_interpolation_between_two_seeds_is_even_and_every_frame_tiles(trained):
    from blender_texgan.core.latent import seed_latent
    from blender_texgan.engine.generate import load_runner
    from blender_texgan.engine.latent.morph import MorphRequest, morph_sequence

    path = str(trained[1])
    frames = [f["albedo"] for f in morph_sequence(MorphRequest(path, "0", "5", frames=9, size=64, engine="numpy"))]
    runner = load_runner(trained[1], "numpy")
    first = np.moveaxis(runner.forward(seed_latent(runner.layout, 0, 64)[0]), 0, -1)[..., :3]
    np.testing.assert_allclose(frames[0], first, atol=1e-5)
    steps = [float(np.abs(b - a).mean()) for a, b in zip(frames, frames[1:])]
    assert max(steps) / min(steps) < 1.6, steps
    assert all(looks_periodic(f) for f in frames)


def test_the_variations_command_writes_maps_and_refuses_a_generator(trained, tiny_model, tmp_path, capsys):
    from blender_texgan.__main__ import main
    from blender_texgan.core.png import write_png

    image = write_png(tmp_path / "noise.png", _photo())
    assert main(["variations", str(image), "--model", str(trained[1]), "--count", "2", "--size", "64",
                 "--engine", "numpy", "--out", str(tmp_path / "out")]) == 0
    assert sorted(p.name for p in (tmp_path / "out").glob("noise_v1_*.png")) == [
        "noise_v1_albedo.png", "noise_v1_height.png", "noise_v1_normal.png", "noise_v1_roughness.png"]
    capsys.readouterr()
    assert main(["variations", str(image), "--model", str(tiny_model), "--size", "64",
                 "--out", str(tmp_path / "out2")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "need a VAE model" in err[0]


def test_variations_of_a_regular_texture_keep_its_tiles_on_their_lattice(trained, monkeypatch):
    """Tiles repeat: their lattice is found, and every variation's synthesis snaps to it (without,
    the tiles of a regular texture come out cut and shifted: docs/vae.md)."""
    from blender_texgan.engine.latent import variations

    ys, xs = np.meshgrid(np.arange(240), np.arange(240), indexing="ij")
    grout = ((ys % 40) < 3) | ((xs % 24) < 3)  # tiles 24 px wide and 40 px high
    tiles = np.repeat(np.where(grout, 0.3, 0.8)[..., None], 3, axis=-1).astype(np.float32)
    tiles += np.random.default_rng(0).normal(0, 0.02, tiles.shape).astype(np.float32)
    texture = variations.encode(tiles, variations.VariationsRequest(str(trained[1]), size=64, engine="numpy"))
    assert texture.lattice == (40, 24)
    seen = []
    real = variations.exemplar_synthesis
    monkeypatch.setattr(variations, "exemplar_synthesis",
                        lambda *args, **kw: seen.append(args[2]["lattice"]) or real(*args, **kw))
    maps = texture.variant(64, 0, 1.0)
    assert seen == [list(texture.lattice)] and looks_periodic(maps["albedo"])
