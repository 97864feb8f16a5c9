"""The maps -> maps translator's forward pass in numpy (the add-on runs without torch): same
parameters and maths as maps_translator_net.PeriodicResidualUNet. Activations are (H, W, C)."""
from __future__ import annotations

import numpy as np

from ..core.maps_translator_arch import EDGE, MapsTranslatorConfig, logit, maps_translator_param_shapes
from .numpy_net import conv3x3
from .numpy_unet import BAND_PIXELS, leaky, pool2, upsample2


class NumpyMapsTranslator:
    def __init__(self, cfg: MapsTranslatorConfig, tensors: dict[str, np.ndarray]):
        self.cfg = cfg
        self.convs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for key in maps_translator_param_shapes(cfg):
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

    def __call__(self, maps: np.ndarray) -> np.ndarray:
        """(H, W, 5) maps in [0, 1] -> (H, W, 5) translated maps in (0, 1)."""
        base = logit(maps)
        x = np.clip(np.asarray(maps, np.float32), EDGE, 1.0 - EDGE) * 2.0 - 1.0
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
        delta = (x.reshape(-1, c) @ w + b).reshape(h, wd, -1)
        return (1.0 / (1.0 + np.exp(-np.clip(base + delta, -60.0, 60.0)))).astype(np.float32)
