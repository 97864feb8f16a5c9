"""The generator's forward pass in numpy: the zero-install CPU engine (numpy ships with Blender).

Same parameters and maths as nets.PeriodicGenerator; parity with torch is a test. The convolutions
are numpy_conv's, on planar wrap-padded activations; the activation (leaky ReLU, pixel norm) runs
on each chunk of a convolution's output while it is in cache, and the last conv's chunks go
straight on through the 1x1 head and the sigmoid, so its activation is never stored.

The first conv of every block is fused with the x2 upsampling before it: each of the four output
phases is a convolution of the low-resolution input with mixed taps (2x2 for nearest, 3x3 for
bilinear), computed from the same low-resolution im2col buffer, so the upsampled tensor is never
materialised. The encoder's stride-2 convs read the four polyphase parts of their input.
"""
from __future__ import annotations

import numpy as np

from ...core.arch.generator import PeriodicGeneratorConfig
from .numpy_conv import (
    chunk_length,
    conv1x1,
    conv3x3_planar,
    conv3x3_stride2,
    conv_chunks,
    fill_wrap,
    im2col_chunks,
    leaky,
    leaky_pixel_norm,
    planar_weight,
    store_chunk,
    stride1_taps,
    wrap_pad,
)

# UPSAMPLE_MIX[mode][a][t, d]: the weight of low-resolution row k + d - 1 in upsampled row
# 2k + a + t - 1, the row that tap t of a 3x3 conv reads for output row 2k + a.
UPSAMPLE_MIX = {
    "nearest": np.array([[[1, 0, 0], [0, 1, 0], [0, 1, 0]],
                         [[0, 1, 0], [0, 1, 0], [0, 0, 1]]], np.float32),
    "bilinear": np.array([[[.75, .25, 0], [.25, .75, 0], [0, .75, .25]],
                          [[.25, .75, 0], [0, .75, .25], [0, .25, .75]]], np.float32),
}


def upsample_groups(w: np.ndarray, bias: np.ndarray, mix: np.ndarray) -> list[tuple]:
    """Sub-pixel form of conv3x3(upsample_x2(x)) for torch weight w (Cout, Cin, 3, 3).

    Returns groups (k0, k1, k, b, phases): the output phases `phases` ((a, b) pairs: rows 2k + a,
    columns 2j + b) are k @ cols[k0:k1] + b, with cols a low-resolution im2col buffer (im2col_chunks)
    and k the phases' kernels stacked, (len(phases) * Cout, k1 - k0). A phase only reads the input
    rows its mixed taps touch; when both row phases read the same rows they share one product."""
    c_out, c_in = w.shape[:2]
    groups: list[tuple] = []
    for a in (0, 1):
        dys = [d for d in range(3) if mix[a][:, d].any()]
        k0, k1 = dys[0] * 3 * c_in, (dys[-1] + 1) * 3 * c_in
        # Mixed taps over low-resolution offsets (dy, dx) in -1..1, columns in (dy, dx, c) order.
        ks = [np.einsum("oits,ty,sx->oyxi", w, mix[a], mix[b])[:, dys[0]:dys[-1] + 1].reshape(c_out, -1)
              for b in (0, 1)]
        if groups and groups[-1][:2] == (k0, k1):
            _, _, k, _, phases = groups.pop()
            ks, phases = [k] + ks, phases + [(a, 0), (a, 1)]
        else:
            phases = [(a, 0), (a, 1)]
        groups.append((k0, k1, np.ascontiguousarray(np.concatenate(ks), np.float32),
                       np.tile(np.asarray(bias, np.float32), len(phases)), phases))
    return groups


class NumpyGenerator:
    def __init__(self, cfg: PeriodicGeneratorConfig, tensors: dict[str, np.ndarray]):
        self.cfg = cfg
        self.convs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for name in ["stem"] + [f"blocks.{i}.conv{j}" for i in range(len(cfg.channels) - 1) for j in (1, 2)] + ["head"]:
            self.convs[name] = (planar_weight(tensors[f"{name}.weight"]),
                                np.asarray(tensors[f"{name}.bias"], np.float32))
        mix = UPSAMPLE_MIX[cfg.upsample]
        self.up_convs = {f"blocks.{i}.conv1": upsample_groups(np.asarray(tensors[f"blocks.{i}.conv1.weight"],
                                                                         np.float32),
                                                              tensors[f"blocks.{i}.conv1.bias"], mix)
                         for i in range(len(cfg.channels) - 1)}

    def upsample_conv(self, p: np.ndarray, name: str) -> np.ndarray:
        """act(conv3x3(upsample_x2(x))) for wrap-padded p (C, h + 2, w + 2) -> wrap-padded
        (Cout, 2h + 2, 2w + 2), without building the upsampled tensor."""
        groups, c_out = self.up_convs[name], self.convs[name][1].shape[0]
        _, hp, wp = p.shape
        h, w = hp - 2, wp - 2
        out = np.empty((c_out, 2 * h + 2, 2 * w + 2), np.float32)
        # Phase (a, b) pixel (r, j) is output pixel (2r + a, 2j + b), padded by one.
        dst = {(a, b): out[:, 1 + a:1 + a + 2 * h:2, 1 + b:1 + b + 2 * w:2] for a in (0, 1) for b in (0, 1)}
        rows, y = max(k.shape[0] for _, _, k, _, _ in groups), None
        for q0, count, cols in im2col_chunks(stride1_taps(p), chunk_length(9 * p.shape[0], rows)):
            y = np.empty((rows, cols.shape[1]), np.float32) if y is None else y
            for k0, k1, k, b, phases in groups:
                yk = np.matmul(k, cols[k0:k1], out=y[:k.shape[0]])
                yk += b[:, None]
                leaky_pixel_norm(yk, c_out)
                for i, phase in enumerate(phases):
                    store_chunk(dst[phase], yk[i * c_out:(i + 1) * c_out], q0, count, wp)
        return fill_wrap(out)

    def conv(self, p: np.ndarray, name: str) -> np.ndarray:
        """act(conv3x3(x)) for wrap-padded p -> wrap-padded."""
        return conv3x3_planar(p, *self.convs[name], finish=leaky_pixel_norm)

    def conv_head(self, p: np.ndarray, name: str) -> np.ndarray:
        """sigmoid(head(act(conv3x3(x)))) for wrap-padded p (C, H + 2, W + 2) -> (out_channels, H, W),
        chunk by chunk: the last activation is never stored."""
        wh, bh = self.convs["head"]
        _, hp, wp = p.shape
        out = np.empty((wh.shape[0], hp - 2, wp - 2), np.float32)
        o = None
        for q0, count, y in conv_chunks(stride1_taps(p), *self.convs[name]):
            leaky_pixel_norm(y)
            o = np.empty((wh.shape[0], y.shape[1]), np.float32) if o is None else o
            np.matmul(wh, y, out=o)
            o += bh[:, None]
            np.negative(o, out=o)  # sigmoid, in place
            np.exp(o, out=o)
            o += 1.0
            np.reciprocal(o, out=o)
            store_chunk(out, o, q0, count, wp)
        return out

    def __call__(self, z: np.ndarray) -> np.ndarray:
        """(C, h, w) latent -> (out_channels, h * scale, w * scale) in [0, 1]."""
        names = ["stem"] + [f"blocks.{i}.conv{j}" for i in range(len(self.cfg.channels) - 1) for j in (1, 2)]
        p = wrap_pad(np.asarray(z, np.float32))
        for name in names[:-1]:
            p = self.upsample_conv(p, name) if name in self.up_convs else self.conv(p, name)
        return self.conv_head(p, names[-1])


class NumpyEncoder:
    """The VAE encoder (engine.nets.vae_encoder.PeriodicEncoder) in numpy: a stride-2 conv is the wrapped
    3x3 conv read at every second row and column."""

    def __init__(self, cfg, tensors: dict[str, np.ndarray]):
        levels = len(cfg.encoder_channels) - 1
        self.names = ["encoder.stem"] + [f"encoder.down.{i}" for i in range(levels)] + ["encoder.head"]
        self.convs = {name: (planar_weight(tensors[f"{name}.weight"]), np.asarray(tensors[f"{name}.bias"], np.float32))
                      for name in self.names}

    def __call__(self, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(5, H, W) maps in [0, 1] -> mean, log-variance, each (latent, H / scale, W / scale)."""
        p = conv3x3_planar(wrap_pad(np.asarray(maps, np.float32) * 2.0 - 1.0), *self.convs["encoder.stem"],
                           finish=leaky)
        x = p[:, 1:-1, 1:-1]
        for name in self.names[1:-1]:
            x = conv3x3_stride2(p, *self.convs[name])
            p = wrap_pad(x)
        y = conv1x1(x, *self.convs["encoder.head"])
        half = y.shape[0] // 2
        return np.ascontiguousarray(y[:half]), np.clip(y[half:], -12.0, 6.0)
