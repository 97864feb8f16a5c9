"""The translator U-Net's forward pass in numpy: same parameters and maths as
photo_translator.PeriodicUNet (parity is a test). (H, W, C) in and out; inside, activations are
planar and wrap-padded, each 3x3 convolution numpy_conv.conv3x3_planar (one matrix product per
chunk of pixels, wrap-around padding, the leaky ReLU on each chunk while it is in cache)."""
from __future__ import annotations

import numpy as np

from ...core.arch.photo_translator import UNetConfig, unet_param_shapes
from .numpy_conv import conv1x1, conv3x3_planar, leaky, planar_weight, wrap_pad

BAND_PIXELS = 1 << 15  # output pixels per matrix product at most: the U-Net is wider at full size


def pool2(x: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (C, H / 2, W / 2), the mean of each 2 x 2 block."""
    c, h, w = x.shape
    return x.reshape(c, h // 2, 2, w // 2, 2).mean(axis=(2, 4), dtype=np.float32)


def upsample2(x: np.ndarray) -> np.ndarray:
    """(C, H, W) -> (C, 2H, 2W), x2 bilinear with wrap-around: row 2k gets (x[k-1] + 3 x[k]) / 4, row
    2k+1 (3 x[k] + x[k+1]) / 4, and the same along the columns."""
    def along(a: np.ndarray, axis: int) -> np.ndarray:
        prev, nxt = np.roll(a, 1, axis=axis), np.roll(a, -1, axis=axis)
        even, odd = 0.25 * prev + 0.75 * a, 0.75 * a + 0.25 * nxt
        out = np.stack([even, odd], axis=axis + 1)
        shape = list(a.shape)
        shape[axis] *= 2
        return out.reshape(shape)
    return along(along(x, 1), 2).astype(np.float32, copy=False)


def interior(p: np.ndarray) -> np.ndarray:
    """The (C, H, W) pixels of a wrap-padded (C, H + 2, W + 2) activation (a view)."""
    return p[:, 1:-1, 1:-1]


class NumpyUNet:
    """The photo translator's net; a subclass with other param_shapes runs another U-Net of the
    same layout (numpy_material_translator)."""
    param_shapes = staticmethod(unet_param_shapes)

    def __init__(self, cfg: UNetConfig, tensors: dict[str, np.ndarray]):
        self.cfg = cfg
        self.convs: dict[str, tuple[np.ndarray, np.ndarray]] = {
            key[:-len(".weight")]: (planar_weight(tensors[key]),
                                    np.asarray(tensors[key[:-len(".weight")] + ".bias"], np.float32))
            for key in self.param_shapes(cfg) if key.endswith(".weight")}

    def pair(self, p: np.ndarray, name: str) -> np.ndarray:
        """Two wrapped 3x3 convolutions with leaky ReLUs, wrap-padded in and out."""
        p = conv3x3_planar(p, *self.convs[f"{name}.conv1"], finish=leaky, band_pixels=BAND_PIXELS)
        return conv3x3_planar(p, *self.convs[f"{name}.conv2"], finish=leaky, band_pixels=BAND_PIXELS)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """(H, W, 6) prepared photo and light -> (H, W, 8) raw outputs (see finish_outputs)."""
        p = wrap_pad(np.asarray(x, np.float32).transpose(2, 0, 1))
        skips = []
        for i in range(len(self.cfg.channels)):
            if i:
                p = wrap_pad(pool2(interior(p)))
            p = self.pair(p, f"enc.{i}")
            skips.append(p)
        for i in reversed(range(len(self.cfg.channels) - 1)):
            p = self.pair(np.concatenate([wrap_pad(upsample2(interior(p))), skips[i]]), f"dec.{i}")
        out = conv1x1(np.ascontiguousarray(interior(p)), *self.convs["head"])
        return np.ascontiguousarray(out.transpose(1, 2, 0))


def finish_outputs(raw: np.ndarray) -> np.ndarray:
    """Raw (H, W, 8) -> albedo, unit normal (vectors, z >= 0), height, roughness; as photo_translator."""
    sig = 1.0 / (1.0 + np.exp(-np.clip(raw, -60.0, 60.0)))
    n = raw[..., 3:6].copy()
    n[..., 2] += 1.0
    n[..., 2] = np.logaddexp(0.0, n[..., 2]) + 1e-3
    n /= np.linalg.norm(n, axis=-1, keepdims=True)
    return np.concatenate([sig[..., 0:3], n, sig[..., 6:8]], axis=-1).astype(np.float32)
