"""The texture VAE, described without torch: an encoder to a spatial latent and the generator as
its decoder.

    encoder: maps (5, H, W) -> stem 3x3 -> one stride-2 3x3 conv per level -> 1x1 head
             -> mean and log-variance, each (latent_channels, H / scale, W / scale)
    decoder: exactly a PeriodicGenerator (core.arch.generator) whose latent is all local noise

Every conv wraps around, so a periodic texture encodes to a periodic latent and any latent decodes
to a periodic texture. The decoder being a generator means a VAE model runs through every
generation path a GAN model does (neural, refined against its exemplar, random, blend); only
encoding is new. Parameter names: "encoder.*" below, "decoder.*" the generator's own.
"""
from __future__ import annotations

from dataclasses import dataclass

from ..maps import GENERATED_CHANNEL_COUNT
from .generator import PeriodicGeneratorConfig, config_from_manifest, param_shapes

PERIODIC_VAE_V1 = "periodic_vae_v1"
ENCODER_PREFIX, DECODER_PREFIX = "encoder.", "decoder."


@dataclass(frozen=True)
class VAEConfig:
    decoder: PeriodicGeneratorConfig

    @property
    def latent_channels(self) -> int:
        return self.decoder.latent_channels

    @property
    def scale(self) -> int:
        return self.decoder.scale

    @property
    def encoder_channels(self) -> tuple[int, ...]:
        """Encoder widths, finest level first: the decoder's, mirrored."""
        return tuple(reversed(self.decoder.channels))

    def to_dict(self) -> dict:
        return {**self.decoder.to_dict(), "upsample": self.decoder.upsample}

    @classmethod
    def from_dict(cls, d) -> "VAEConfig":
        if not isinstance(d, dict):
            raise ValueError("architecture config must be an object")
        d = dict(d)
        upsample = d.pop("upsample", "bilinear")
        names = {"nearest": "periodic_sgan_v1", "bilinear": "periodic_sgan_v2"}
        if upsample not in names:
            raise ValueError(f"bad architecture config (upsample {upsample!r})")
        return cls(PeriodicGeneratorConfig.from_dict(d, names[upsample]))


def vae_param_shapes(cfg: VAEConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the VAE (encoder and decoder)."""
    c = cfg.encoder_channels
    shapes: dict[str, tuple[int, ...]] = {
        "encoder.stem.weight": (c[0], GENERATED_CHANNEL_COUNT, 3, 3), "encoder.stem.bias": (c[0],)}
    for i in range(len(c) - 1):
        shapes[f"encoder.down.{i}.weight"] = (c[i + 1], c[i], 3, 3)
        shapes[f"encoder.down.{i}.bias"] = (c[i + 1],)
    shapes["encoder.head.weight"] = (2 * cfg.latent_channels, c[-1], 1, 1)
    shapes["encoder.head.bias"] = (2 * cfg.latent_channels,)
    shapes.update({DECODER_PREFIX + k: v for k, v in param_shapes(cfg.decoder).items()})
    return shapes


def vae_config_from_manifest(arch) -> VAEConfig:
    """The manifest's {"name", "config"} -> config; ValueError (one line) when unknown or bad."""
    if not isinstance(arch, dict) or arch.get("name") != PERIODIC_VAE_V1:
        raise ValueError(f"unknown VAE architecture {arch.get('name') if isinstance(arch, dict) else arch!r}")
    return VAEConfig.from_dict(arch.get("config"))


def part(tensors: dict, prefix: str) -> dict:
    """The tensors under `prefix`, with the prefix taken off (the decoder's are a generator's)."""
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def decoder_config(manifest: dict) -> PeriodicGeneratorConfig:
    """The generator a generator or VAE model file runs (for a VAE: its decoder)."""
    if manifest.get("kind") == "vae":
        return vae_config_from_manifest(manifest["architecture"]).decoder
    return config_from_manifest(manifest["architecture"])
