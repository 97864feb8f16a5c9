"""The generator's forward pass in numpy: the zero-install CPU engine (numpy ships with Blender).

Same parameters and maths as nets.PeriodicGenerator; parity with torch is a test. Activations are
kept as (H, W, C) so each 3x3 convolution is one matrix product per band of rows.
"""
from __future__ import annotations

import numpy as np

from ..core.architecture import PeriodicGeneratorConfig

BAND_PIXELS = 1 << 16  # output pixels per matrix product: bounds the im2col buffer


class NumpyGenerator:
    def __init__(self, cfg: PeriodicGeneratorConfig, tensors: dict[str, np.ndarray]):
        self.cfg = cfg
        self.convs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in ["stem"] + [f"blocks.{i}.conv{j}" for i in range(len(cfg.channels) - 1) for j in (1, 2)] + ["head"]:
            w = np.asarray(tensors[f"{name}.weight"], np.float32)
            c_out, c_in, kh, kw = w.shape
            # (Cout, Cin, kh, kw) -> (kh * kw * Cin, Cout), matching the (dy, dx, c) patch order.
            self.convs[name] = (np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(kh * kw * c_in, c_out)),
                                np.asarray(tensors[f"{name}.bias"], np.float32))

    def conv(self, x: np.ndarray, name: str) -> np.ndarray:
        w, b = self.convs[name]
        h, wd, c = x.shape
        if w.shape[0] == c:  # 1x1
            return (x.reshape(-1, c) @ w + b).reshape(h, wd, -1)
        p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="wrap")
        out = np.empty((h, wd, w.shape[1]), np.float32)
        rows = max(1, BAND_PIXELS // wd)
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            cols = np.concatenate([p[r0 + dy:r1 + dy, dx:dx + wd] for dy in range(3) for dx in range(3)], axis=-1)
            out[r0:r1] = (cols.reshape(-1, 9 * c) @ w + b).reshape(r1 - r0, wd, -1)
        return out

    @staticmethod
    def act(x: np.ndarray) -> np.ndarray:
        x = np.maximum(x, 0.2 * x)
        x *= 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-8)
        return x

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """(C, h, w) latent -> (out_channels, h * scale, w * scale) in [0, 1]."""
        x = self.act(self.conv(np.ascontiguousarray(z.transpose(1, 2, 0), np.float32), "stem"))
        for i in range(len(self.cfg.channels) - 1):
            x = x.repeat(2, axis=0).repeat(2, axis=1)
            x = self.act(self.conv(x, f"blocks.{i}.conv1"))
            x = self.act(self.conv(x, f"blocks.{i}.conv2"))
        y = self.conv(x, "head")
        y = 1.0 / (1.0 + np.exp(-y))
        return np.ascontiguousarray(y.transpose(2, 0, 1))
