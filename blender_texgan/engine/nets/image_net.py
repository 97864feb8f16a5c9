"""A model file's image-to-image net (the photo translator's U-Net, the material translator's),
loaded once and run on (H, W, C) float32 images: in torch on a device, or as its numpy twin.

    net = ImageNet(model.tensors, "auto", "auto", lambda: build_translator(cfg),
                   lambda tensors: NumpyUNet(cfg, tensors))
    out = net(x)    # (H, W, C_in) -> (H, W, C_out)
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..devices import pick_device
from ..generate import pick_engine


class ImageNet:
    """engine: "auto", "torch" or "numpy" (engine.generate.pick_engine); torch_net() builds the torch
    module the tensors load into, numpy_twin(tensors) the numpy twin. device: the torch device, None
    on the numpy engine."""

    def __init__(self, tensors: dict, engine: str, device: str, torch_net: Callable, numpy_twin: Callable):
        self.engine = pick_engine(engine, device)
        self.device = None
        if self.engine == "torch":
            import torch

            self.device = pick_device(device)
            net = torch_net()
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in tensors.items()})
            self._net = net.to(self.device).eval()
        else:
            self._net = numpy_twin(tensors)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.engine == "torch":
            import torch

            with torch.no_grad():
                t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1), np.float32))[None].to(self.device)
                return self._net(t)[0].permute(1, 2, 0).float().cpu().numpy()
        return self._net(x)
