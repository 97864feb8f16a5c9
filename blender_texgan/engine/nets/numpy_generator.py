"""The generator's forward pass in numpy: the zero-install CPU engine (numpy ships with Blender).

Same parameters and maths as nets.PeriodicGenerator; parity with torch is a test. Activations are
kept as (H, W, C) so each 3x3 convolution is one matrix product per band of rows. The first conv
of every block is fused with the x2 upsampling before it: each of the four output phases is a
convolution of the low-resolution input with mixed taps (2x2 for nearest, 3x3 for bilinear), so
the upsampled tensor is never materialised.
"""
from __future__ import annotations

import numpy as np

from ...core.arch.generator import PeriodicGeneratorConfig

BAND_PIXELS = 1 << 16  # output pixels per matrix product: bounds the im2col buffer

# UPSAMPLE_MIX[mode][a][t, d]: the weight of low-resolution row k + d - 1 in upsampled row
# 2k + a + t - 1, the row that tap t of a 3x3 conv reads for output row 2k + a.
UPSAMPLE_MIX = {
    "nearest": np.array([[[1, 0, 0], [0, 1, 0], [0, 1, 0]],
                         [[0, 1, 0], [0, 1, 0], [0, 0, 1]]], np.float32),
    "bilinear": np.array([[[.75, .25, 0], [.25, .75, 0], [0, .75, .25]],
                          [[.25, .75, 0], [0, .75, .25], [0, .25, .75]]], np.float32),
}


def conv3x3(x: np.ndarray, w: np.ndarray, b: np.ndarray, band_pixels: int = BAND_PIXELS) -> np.ndarray:
    """x (H, W, Cin), w (9 * Cin, Cout) in (dy, dx, c) order -> (H, W, Cout), wrapping around; one
    matrix product per band of rows (band_pixels output pixels bound the im2col buffer)."""
    h, wd, c = x.shape
    p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="wrap")
    out = np.empty((h, wd, w.shape[1]), np.float32)
    rows = max(1, band_pixels // wd)
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        cols = np.concatenate([p[r0 + dy:r1 + dy, dx:dx + wd] for dy in range(3) for dx in range(3)], axis=-1)
        out[r0:r1] = (cols.reshape(-1, 9 * c) @ w + b).reshape(r1 - r0, wd, -1)
    return out


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

        # Sub-pixel form of upsample + conv1: output phase (a, b) is a small convolution of the
        # low-resolution input; only the input offsets a phase really reads are kept.
        mix = UPSAMPLE_MIX[cfg.upsample]
        self.up_convs: dict[str, list[list[tuple[list[int], list[int], np.ndarray]]]] = {}
        for i in range(len(cfg.channels) - 1):
            name = f"blocks.{i}.conv1"
            w = np.asarray(tensors[f"{name}.weight"], np.float32)
            phases = []
            for a in (0, 1):
                row = []
                for b in (0, 1):
                    k = np.einsum("oits,ty,sx->oiyx", w, mix[a], mix[b])  # offsets -1, 0, 1
                    dys = [d for d in range(3) if mix[a][:, d].any()]
                    dxs = [d for d in range(3) if mix[b][:, d].any()]
                    k = k[:, :, dys][:, :, :, dxs]
                    row.append(([d - 1 for d in dys], [d - 1 for d in dxs],
                                np.ascontiguousarray(k.transpose(2, 3, 1, 0).reshape(-1, w.shape[0]))))
                phases.append(row)
            self.up_convs[name] = phases

    def upsample_conv(self, x: np.ndarray, name: str) -> np.ndarray:
        """conv3x3(upsample_x2(x)) without building the upsampled tensor."""
        phases, bias = self.up_convs[name], self.convs[name][1]
        h, wd, c = x.shape
        p = np.pad(x, ((1, 1), (1, 1), (0, 0)), mode="wrap")
        out = np.empty((2 * h, 2 * wd, bias.shape[0]), np.float32)
        rows = max(1, BAND_PIXELS // (4 * wd))
        for r0 in range(0, h, rows):
            r1 = min(h, r0 + rows)
            for a in (0, 1):
                for b in (0, 1):
                    dys, dxs, k = phases[a][b]
                    cols = np.concatenate([p[r0 + 1 + dy:r1 + 1 + dy, 1 + dx:1 + dx + wd]
                                           for dy in dys for dx in dxs], axis=-1)
                    y = cols.reshape(-1, k.shape[0]) @ k + bias
                    out[2 * r0 + a:2 * r1:2, b::2] = y.reshape(r1 - r0, wd, -1)
        return out

    def conv(self, x: np.ndarray, name: str) -> np.ndarray:
        w, b = self.convs[name]
        h, wd, c = x.shape
        if w.shape[0] == c:  # 1x1
            return (x.reshape(-1, c) @ w + b).reshape(h, wd, -1)
        return conv3x3(x, w, b)

    @staticmethod
    def act(x: np.ndarray) -> np.ndarray:
        x = np.maximum(x, 0.2 * x)
        x *= 1.0 / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + 1e-8)
        return x

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """(C, h, w) latent -> (out_channels, h * scale, w * scale) in [0, 1]."""
        x = self.act(self.conv(np.ascontiguousarray(z.transpose(1, 2, 0), np.float32), "stem"))
        for i in range(len(self.cfg.channels) - 1):
            x = self.act(self.upsample_conv(x, f"blocks.{i}.conv1"))
            x = self.act(self.conv(x, f"blocks.{i}.conv2"))
        y = self.conv(x, "head")
        y = 1.0 / (1.0 + np.exp(-y))
        return np.ascontiguousarray(y.transpose(2, 0, 1))


class NumpyEncoder:
    """The VAE encoder (engine.nets.vae_encoder.PeriodicEncoder) in numpy: a stride-2 conv is the wrapped
    3x3 conv read at every second row and column."""

    def __init__(self, cfg, tensors: dict[str, np.ndarray]):
        levels = len(cfg.encoder_channels) - 1
        self.names = ["encoder.stem"] + [f"encoder.down.{i}" for i in range(levels)] + ["encoder.head"]
        self.convs = {}
        for name in self.names:
            w = np.asarray(tensors[f"{name}.weight"], np.float32)
            c_out, c_in, kh, kw = w.shape
            self.convs[name] = (np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(kh * kw * c_in, c_out)),
                                np.asarray(tensors[f"{name}.bias"], np.float32))

    def __call__(self, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(5, H, W) maps in [0, 1] -> mean, log-variance, each (latent, H / scale, W / scale)."""
        x = np.ascontiguousarray(maps.transpose(1, 2, 0), np.float32) * 2.0 - 1.0
        for name in self.names[:-1]:
            w, b = self.convs[name]
            x = conv3x3(x, w, b)
            if name != "encoder.stem":
                x = np.ascontiguousarray(x[::2, ::2])
            x = np.maximum(x, 0.2 * x)
        w, b = self.convs["encoder.head"]
        h, wd, c = x.shape
        y = (x.reshape(-1, c) @ w + b).reshape(h, wd, -1).transpose(2, 0, 1)
        half = y.shape[0] // 2
        return np.ascontiguousarray(y[:half]), np.clip(y[half:], -12.0, 6.0)
