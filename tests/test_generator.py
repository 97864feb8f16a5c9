"""The tileable generator: exact periodicity, its parameters match the torch-free spec, the engine."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from blender_texgan.core.arch.generator import PeriodicGeneratorConfig, config_from_manifest, param_shapes
from blender_texgan.core.latent import LatentLayout, seed_latent
from blender_texgan.core.normals import normal_from_height
from blender_texgan.core.tiling import seam_ratio
from blender_texgan.engine.generate import GenerationError, GenerationRequest, generate
from blender_texgan.engine.nets.generator import PeriodicConv2d, build_generator, wrap_pad


@pytest.mark.parametrize("k, stride, padding", [(3, 1, None), (4, 2, 1), (5, 1, None)])
def test_periodic_conv_equals_torch_circular_padding_forward_and_backward(k, stride, padding):
    """PeriodicConv2d (wrap_pad's own backward) gives nn.Conv2d(padding_mode="circular")'s output and
    gradients, bit for bit, for the generator's, translator's and discriminator's shapes."""
    torch.manual_seed(1)
    ref = torch.nn.Conv2d(5, 7, k, stride=stride, padding=k // 2 if padding is None else padding,
                          padding_mode="circular")
    ours = PeriodicConv2d(5, 7, k, stride=stride, padding=padding)
    ours.load_state_dict(ref.state_dict())
    x = torch.randn(2, 5, 16, 12, requires_grad=True)
    y = x.detach().clone().requires_grad_(True)
    a, b = ref(x), ours(y)
    assert torch.equal(a, b)
    g = torch.randn_like(a)
    a.backward(g)
    b.backward(g)
    assert torch.equal(x.grad, y.grad) and torch.equal(ref.weight.grad, ours.weight.grad)


def test_wrap_pad_is_circular_padding_and_its_backward_differentiates():
    z = torch.randn(1, 2, 5, 4, dtype=torch.float64, requires_grad=True)
    for pads in (2, (0, 2), (2, 0), (1, 3), (5, 4)):   # the R1 penalty differentiates its backward too
        assert torch.autograd.gradcheck(lambda t, pads=pads: wrap_pad(t, pads), (z,))
        assert torch.autograd.gradgradcheck(lambda t, pads=pads: wrap_pad(t, pads), (z,))
        assert torch.equal(wrap_pad(z, pads), F.pad(z, (pads, pads, pads, pads) if isinstance(pads, int)
                                                    else (pads[1], pads[1], pads[0], pads[0]), mode="circular"))


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
@pytest.mark.parametrize("channels", [(16, 12, 8), (8, 8, 8, 8)])
def test_tiling_the_latent_tiles_the_output(channels, upsample):
    torch.manual_seed(0)
    cfg = PeriodicGeneratorConfig(latent_channels=6, channels=channels, upsample=upsample)
    G = build_generator(cfg).eval()
    z = torch.randn(2, 6, 5, 7)
    with torch.no_grad():
        out = G(z)
        tiled = G(z.repeat(1, 1, 2, 2))
    assert tiled.shape[-2:] == (10 * cfg.scale, 14 * cfg.scale)
    torch.testing.assert_close(tiled, out.repeat(1, 1, 2, 2), atol=1e-5, rtol=1e-5)


def test_torch_parameters_match_the_spec():
    cfg = PeriodicGeneratorConfig()
    G = build_generator(cfg)
    assert {k: tuple(v.shape) for k, v in G.state_dict().items()} == param_shapes(cfg)


@pytest.mark.parametrize("upsample", ["nearest", "bilinear"])
def test_config_round_trip_and_refusal(upsample):
    cfg = PeriodicGeneratorConfig(latent_channels=4, channels=(8, 4), upsample=upsample)
    assert config_from_manifest({"name": cfg.name, "config": cfg.to_dict()}) == cfg
    with pytest.raises(ValueError, match="unknown"):
        PeriodicGeneratorConfig.from_dict({**cfg.to_dict(), "evil": 1}, cfg.name)
    with pytest.raises(ValueError, match="unknown architecture"):
        config_from_manifest({"name": "periodic_sgan_v9", "config": cfg.to_dict()})


def test_bilinear_upsampling_wraps_and_is_smooth():
    from blender_texgan.engine.nets.generator import upsample2
    x = torch.arange(4.0).view(1, 1, 1, 4).repeat(1, 1, 4, 1)  # columns 0 1 2 3, wrapping 3 -> 0
    row = upsample2(x, "bilinear")[0, 0, 0]
    # (x[k-1] + 3 x[k]) / 4 and (3 x[k] + x[k+1]) / 4, with x[-1] = x[3] and x[4] = x[0].
    expected = torch.tensor([0.75, 0.25, 0.75, 1.25, 1.75, 2.25, 2.75, 2.25])
    torch.testing.assert_close(row, expected)


def test_engine_generates_a_periodic_consistent_pbr_set(tiny_model):
    maps, manifest = generate(GenerationRequest(str(tiny_model), resolution=128, seed=3, device="cpu"))
    assert {k: v.shape for k, v in maps.items()} == {
        "albedo": (128, 128, 3), "normal": (128, 128, 3), "roughness": (128, 128, 1), "height": (128, 128, 1)}
    for name, arr in maps.items():
        assert arr.std() > 1e-3, f"{name} is flat"
        assert seam_ratio(arr) < 1.5, name  # exact periodicity: test_tiling_the_latent_tiles_the_output
    expected = normal_from_height(maps["height"][..., 0], manifest["normal_strength"])
    assert np.allclose(maps["normal"], expected, atol=1e-6)


def test_same_seed_same_maps_other_seed_other_maps(tiny_model):
    a, _ = generate(GenerationRequest(str(tiny_model), 32, seed=1, device="cpu"))
    b, _ = generate(GenerationRequest(str(tiny_model), 32, seed=1, device="cpu"))
    c, _ = generate(GenerationRequest(str(tiny_model), 32, seed=2, device="cpu"))
    assert np.array_equal(a["albedo"], b["albedo"])
    assert not np.allclose(a["albedo"], c["albedo"])


def test_latent_layout_local_global_periodic():
    layout = LatentLayout(local_channels=3, global_channels=2, periodic_periods=(4.0,), scale=16)
    z = seed_latent(layout, 5, 256)
    assert z.shape == (1, 3 + 2 + 4, 16, 16) and layout.channels == 9
    assert np.array_equal(z, seed_latent(layout, 5, 256))
    assert np.allclose(z[0, 3:5], z[0, 3:5, :1, :1])  # global noise is constant over space
    waves = z[0, 5:]
    assert np.allclose(np.abs(np.fft.fft(waves[0, 0]))[[4, 12]].sum(), 16, atol=1e-3)  # wave number 16/4
    assert np.allclose(np.roll(waves, 4, axis=-1), waves, atol=1e-5)  # one period = 4 cells: wraps
    assert LatentLayout.from_dict(layout.to_dict()) == layout


@pytest.mark.parametrize("resolution,match", [(30, "between"), (66, "multiple of 4")])
def test_bad_resolution_is_one_sentence(tiny_model, resolution, match):
    with pytest.raises(GenerationError, match=match):
        generate(GenerationRequest(str(tiny_model), resolution, 0, "cpu"))


def test_unknown_model_name_lists_bundled_models():
    with pytest.raises(GenerationError, match="bundled models are"):
        generate(GenerationRequest("no_such_model", 64, 0, "cpu"))
