"""The generator's input: a spatial latent built from local noise, global noise and periodic waves.

Following Spatial GAN / PSGAN: local noise (i.i.d. per latent cell) gives texture detail, global
noise (one vector per image, broadcast over space) lets one model make distinct variants, and
periodic channels (sines with integer wave numbers, so they wrap) give regular structure a
phase to lock on to. Drawn with numpy so every engine sees the same numbers for a seed.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class LatentLayout:
    local_channels: int = 32
    global_channels: int = 0
    periodic_periods: tuple[float, ...] = ()  # wave periods in latent cells; 4 channels each
    scale: int = 16                            # output pixels per latent cell

    @property
    def channels(self) -> int:
        return self.local_channels + self.global_channels + 4 * len(self.periodic_periods)

    def to_dict(self) -> dict:
        return {"channels": self.channels, "local_channels": self.local_channels,
                "global_channels": self.global_channels,
                "periodic_periods": list(self.periodic_periods), "scale": self.scale,
                "distribution": "standard_normal"}

    @classmethod
    def from_dict(cls, d: dict) -> "LatentLayout":
        """Reads a manifest's `latent`; a plain {channels, scale} means all-local noise."""
        if not isinstance(d, dict):
            raise ValueError("latent layout must be an object")
        try:
            channels = int(d["channels"])
            layout = cls(local_channels=int(d.get("local_channels", channels)),
                         global_channels=int(d.get("global_channels", 0)),
                         periodic_periods=tuple(float(p) for p in d.get("periodic_periods", ())),
                         scale=int(d["scale"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"bad latent layout ({exc})") from None
        if layout.channels != channels or min(layout.local_channels, layout.global_channels) < 0:
            raise ValueError("latent channel counts do not add up")
        if any(not p > 0 for p in layout.periodic_periods):
            raise ValueError("periodic periods must be positive")
        return layout


def wave_number(side: int, period: float) -> int:
    """The integer wave number closest to `side / period`: the wave then wraps exactly."""
    return max(1, int(round(side / period)))


def make_latent(layout: LatentLayout, rng: np.random.Generator, height: int, width: int,
                batch: int = 1) -> np.ndarray:
    """(batch, channels, height, width) float32 latent, periodic on a height x width torus."""
    parts = [rng.standard_normal((batch, layout.local_channels, height, width), dtype=np.float32)]
    if layout.global_channels:
        g = rng.standard_normal((batch, layout.global_channels, 1, 1), dtype=np.float32)
        parts.append(np.broadcast_to(g, (batch, layout.global_channels, height, width)))
    if layout.periodic_periods:
        y = np.arange(height, dtype=np.float64)[:, None] / height
        x = np.arange(width, dtype=np.float64)[None, :] / width
        phases = rng.uniform(0, 2 * np.pi, (batch, len(layout.periodic_periods), 2))
        waves = np.empty((batch, 4 * len(layout.periodic_periods), height, width), np.float32)
        for i, period in enumerate(layout.periodic_periods):
            kx, ky = wave_number(width, period), wave_number(height, period)
            for b in range(batch):
                ax = 2 * np.pi * kx * x + phases[b, i, 0]
                ay = 2 * np.pi * ky * y + phases[b, i, 1]
                waves[b, 4 * i + 0] = np.broadcast_to(np.sin(ax), (height, width))
                waves[b, 4 * i + 1] = np.broadcast_to(np.cos(ax), (height, width))
                waves[b, 4 * i + 2] = np.broadcast_to(np.sin(ay), (height, width))
                waves[b, 4 * i + 3] = np.broadcast_to(np.cos(ay), (height, width))
        parts.append(waves)
    return np.ascontiguousarray(np.concatenate(parts, axis=1), dtype=np.float32)


def seed_latent(layout: LatentLayout, seed: int, resolution: int) -> np.ndarray:
    """The latent for one square image of `resolution` pixels from a seed."""
    side = resolution // layout.scale
    return make_latent(layout, np.random.default_rng(seed), side, side)


def grid_offset(seed: int, scale: int) -> tuple[int, int]:
    """Where, within a latent cell, the wrap border of the image for `seed` falls (rows, columns).

    The generator's output is exactly periodic, so rolling it keeps it tileable. Rolled by a
    random sub-cell offset, the wrap border is a line like any other instead of always lying on
    the latent-cell grid, whose lines can carry a faint grid pattern (see metrics' grid ratio).
    """
    rng = np.random.default_rng([seed, 0x5EA3])
    return int(rng.integers(scale)), int(rng.integers(scale))
