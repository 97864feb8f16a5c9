"""The maps -> material translator's forward pass in numpy (the add-on runs without torch): same
parameters and maths as material_translator.PeriodicResidualUNet. Activations are (H, W, C)."""
from __future__ import annotations

import numpy as np

from ...core.arch.material_translator import EDGE, logit, material_translator_param_shapes
from .numpy_unet import NumpyUNet


class NumpyMaterialTranslator(NumpyUNet):
    """NumpyMaterialTranslator(MaterialTranslatorConfig, tensors): the U-Net's head added to the maps' logits."""
    param_shapes = staticmethod(material_translator_param_shapes)

    def __call__(self, maps: np.ndarray) -> np.ndarray:
        """(H, W, 5) maps in [0, 1] -> (H, W, 5) translated maps in (0, 1)."""
        base = logit(maps)
        x = np.clip(np.asarray(maps, np.float32), EDGE, 1.0 - EDGE) * 2.0 - 1.0
        delta = super().__call__(x)
        return (1.0 / (1.0 + np.exp(-np.clip(base + delta, -60.0, 60.0)))).astype(np.float32)
