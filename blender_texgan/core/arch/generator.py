"""Generator architectures known to this version, described without torch.

The parameter names and shapes of each architecture are listed here so a model file can be fully
validated, and run by the numpy engine (engine/nets/numpy_generator.py), without importing torch. The torch module in
engine/nets/generator.py builds exactly these parameters; a test keeps the two in step.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..maps import GENERATED_CHANNEL_COUNT

PERIODIC_SGAN_V1 = "periodic_sgan_v1"  # nearest x2 upsampling
PERIODIC_SGAN_V2 = "periodic_sgan_v2"  # bilinear x2 upsampling with wrap-around (no 2**k-pixel grid)
UPSAMPLING = {PERIODIC_SGAN_V1: "nearest", PERIODIC_SGAN_V2: "bilinear"}


@dataclass(frozen=True)
class PeriodicGeneratorConfig:
    """A fully convolutional generator with circular padding everywhere.

    A spatial latent of `latent_channels` at 1/scale of the output resolution goes through a stem
    conv, then one block per further entry of `channels` (x2 upsample, two 3x3 convs), then a 1x1
    head to `out_channels`. scale = 2 ** (len(channels) - 1). `upsample` is "nearest" (v1) or
    "bilinear" (v2: the upsampled value at 2k is (x[k-1] + 3 x[k]) / 4, wrapping at the border).
    """
    latent_channels: int = 32
    channels: tuple[int, ...] = (64, 64, 48, 32, 16)
    out_channels: int = GENERATED_CHANNEL_COUNT
    upsample: str = "bilinear"

    def __post_init__(self):
        if self.upsample not in UPSAMPLING.values():
            raise ValueError(f"upsample must be one of {', '.join(UPSAMPLING.values())}, not {self.upsample!r}")

    @property
    def name(self) -> str:
        """The architecture name a model file records for this config."""
        return next(name for name, mode in UPSAMPLING.items() if mode == self.upsample)

    @property
    def scale(self) -> int:
        return 2 ** (len(self.channels) - 1)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["channels"] = list(self.channels)
        del d["upsample"]  # implied by the architecture name
        return d

    @classmethod
    def from_dict(cls, d: dict, name: str) -> "PeriodicGeneratorConfig":
        if not isinstance(d, dict):
            raise ValueError("architecture config must be an object")
        if name not in UPSAMPLING:
            raise ValueError(f"unknown architecture '{name}'")
        unknown = set(d) - {"latent_channels", "channels", "out_channels"}
        if unknown:
            raise ValueError(f"unknown architecture config keys: {sorted(unknown)}")
        try:
            cfg = cls(latent_channels=int(d["latent_channels"]),
                      channels=tuple(int(c) for c in d["channels"]),
                      out_channels=int(d.get("out_channels", GENERATED_CHANNEL_COUNT)),
                      upsample=UPSAMPLING[name])
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad architecture config ({exc})") from None
        if cfg.out_channels != GENERATED_CHANNEL_COUNT:
            raise ValueError(f"out_channels must be {GENERATED_CHANNEL_COUNT}, got {cfg.out_channels}")
        if not 1 <= len(cfg.channels) <= 8 or not all(1 <= c <= 1024 for c in cfg.channels):
            raise ValueError("channels must be 1 to 8 widths between 1 and 1024")
        if not 1 <= cfg.latent_channels <= 1024:
            raise ValueError("latent_channels must be between 1 and 1024")
        return cfg


def param_shapes(cfg: PeriodicGeneratorConfig) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of the generator."""
    shapes: dict[str, tuple[int, ...]] = {}
    c = cfg.channels
    shapes["stem.weight"] = (c[0], cfg.latent_channels, 3, 3)
    shapes["stem.bias"] = (c[0],)
    for i in range(1, len(c)):
        shapes[f"blocks.{i - 1}.conv1.weight"] = (c[i], c[i - 1], 3, 3)
        shapes[f"blocks.{i - 1}.conv1.bias"] = (c[i],)
        shapes[f"blocks.{i - 1}.conv2.weight"] = (c[i], c[i], 3, 3)
        shapes[f"blocks.{i - 1}.conv2.bias"] = (c[i],)
    shapes["head.weight"] = (cfg.out_channels, c[-1], 1, 1)
    shapes["head.bias"] = (cfg.out_channels,)
    return shapes


def config_from_manifest(arch: dict) -> PeriodicGeneratorConfig:
    """The manifest's {"name", "config"} -> config; ValueError (one line) when unknown or bad."""
    if not isinstance(arch, dict) or arch.get("name") not in UPSAMPLING:
        raise ValueError(f"unknown architecture {arch.get('name') if isinstance(arch, dict) else arch!r}")
    return PeriodicGeneratorConfig.from_dict(arch.get("config"), arch["name"])

