"""The translator U-Net's forward pass in numpy: same parameters and maths as
photo_translator.PeriodicUNet (parity is a test). Activations are (H, W, C); each 3x3 convolution
is numpy_generator.conv3x3 (one matrix product per band of rows, wrap-around padding)."""
from __future__ import annotations

import numpy as np

from ...core.arch.photo_translator import UNetConfig, unet_param_shapes
from .numpy_conv import conv3x3

BAND_PIXELS = 1 << 15  # output pixels per matrix product (conv3x3): the U-Net is wider at full size


def leaky(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.2 * x, out=x)


def pool2(x: np.ndarray) -> np.ndarray:
    h, w, c = x.shape
    return x.reshape(h // 2, 2, w // 2, 2, c).mean(axis=(1, 3), dtype=np.float32)


def upsample2(x: np.ndarray) -> np.ndarray:
    """x2 bilinear with wrap-around: row 2k gets (x[k-1] + 3 x[k]) / 4, row 2k+1 (3 x[k] + x[k+1]) / 4."""
    def along(a: np.ndarray, axis: int) -> np.ndarray:
        prev, nxt = np.roll(a, 1, axis=axis), np.roll(a, -1, axis=axis)
        even, odd = 0.25 * prev + 0.75 * a, 0.75 * a + 0.25 * nxt
        out = np.stack([even, odd], axis=axis + 1)
        shape = list(a.shape)
        shape[axis] *= 2
        return out.reshape(shape)
    return along(along(x, 0), 1).astype(np.float32, copy=False)


class NumpyUNet:
    """The photo translator's net; a subclass with other param_shapes runs another U-Net of the
    same layout (numpy_material_translator)."""
    param_shapes = staticmethod(unet_param_shapes)

    def __init__(self, cfg: UNetConfig, tensors: dict[str, np.ndarray]):
        self.cfg = cfg
        self.convs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key in self.param_shapes(cfg):
            if not key.endswith(".weight"):
                continue
            name = key[:-len(".weight")]
            w = np.asarray(tensors[key], np.float32)
            c_out, c_in, kh, kw = w.shape
            self.convs[name] = (np.ascontiguousarray(w.transpose(2, 3, 1, 0).reshape(kh * kw * c_in, c_out)),
                                np.asarray(tensors[f"{name}.bias"], np.float32))

    def pair(self, x: np.ndarray, name: str) -> np.ndarray:
        x = leaky(conv3x3(x, *self.convs[f"{name}.conv1"], BAND_PIXELS))
        return leaky(conv3x3(x, *self.convs[f"{name}.conv2"], BAND_PIXELS))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(H, W, 6) prepared photo and light -> (H, W, 8) raw outputs (see finish_outputs)."""
        x = np.ascontiguousarray(x, np.float32)
        skips = []
        for i in range(len(self.cfg.channels)):
            if i:
                x = pool2(x)
            x = self.pair(x, f"enc.{i}")
            skips.append(x)
        for i in reversed(range(len(self.cfg.channels) - 1)):
            x = self.pair(np.concatenate([upsample2(x), skips[i]], axis=-1), f"dec.{i}")
        w, b = self.convs["head"]
        h, wd, c = x.shape
        return (x.reshape(-1, c) @ w + b).reshape(h, wd, -1)


def finish_outputs(raw: np.ndarray) -> np.ndarray:
    """Raw (H, W, 8) -> albedo, unit normal (vectors, z >= 0), height, roughness; as photo_translator."""
    sig = 1.0 / (1.0 + np.exp(-np.clip(raw, -60.0, 60.0)))
    n = raw[..., 3:6].copy()
    n[..., 2] += 1.0
    n[..., 2] = np.logaddexp(0.0, n[..., 2]) + 1e-3
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.concatenate([sig[..., 0:3], n, sig[..., 6:8]], axis=-1).astype(np.float32)
