"""Run a translator model on a photo: photo -> albedo, normal, height and roughness maps.

Large photos run in tiles whose offsets are multiples of the net's pooling grid, each read with a
margin of the net's full context, so the tiled result equals one pass over the whole photo (no
tile seams; a test checks it). A periodic photo wraps around (periodic maps come out); any other
photo is mirrored at its borders first.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..core.maps import MapSet
from ..core.modelfile import ModelFile, ModelFileError
from ..core.translator_arch import MIN_MEAN, OUTPUT_LAYOUT, prepare_photo, translator_config_from_manifest

TILE = 512  # output pixels per tile side (the numpy engine's memory stays under ~1 GB)


class Translator:
    """A loaded translator ready to run: raw((H, W, 3) prepared input) -> (H, W, 8) raw outputs."""

    def __init__(self, model: ModelFile, engine: str = "auto", device: str = "auto"):
        if model.manifest.get("kind") != "translator":
            raise ModelFileError(model.path, f"is a {model.manifest.get('kind')} model, not a translator")
        from .generate import pick_engine

        self.model = model
        self.cfg = translator_config_from_manifest(model.manifest["architecture"])
        self.engine = pick_engine(engine, device)
        if self.engine == "torch":
            import torch

            from .devices import pick_device
            from .translator_net import build_translator

            self.device = pick_device(device)
            net = build_translator(self.cfg)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.tensors.items()})
            self.net = net.to(self.device).eval()
        else:
            from .numpy_unet import NumpyUNet

            self.net = NumpyUNet(self.cfg, model.tensors)

    def raw(self, x: np.ndarray) -> np.ndarray:
        if self.engine == "torch":
            import torch

            with torch.no_grad():
                t = torch.from_numpy(np.ascontiguousarray(x.transpose(2, 0, 1)))[None].to(self.device)
                return self.net(t)[0].permute(1, 2, 0).float().cpu().numpy()
        return self.net(x)


def _finish(raw: np.ndarray) -> MapSet:
    from .numpy_unet import finish_outputs

    out, maps, start = finish_outputs(raw), {}, 0
    for name, channels in OUTPUT_LAYOUT:
        maps[name] = out[..., start:start + channels]
        start += channels
    maps["normal"] = (maps["normal"] * 0.5 + 0.5).astype(np.float32)  # encoded like every normal map
    return maps


def _padded(x: np.ndarray, periodic: bool, margin: int, multiple: int) -> tuple[np.ndarray, int, int]:
    """Pad to whole pooling cells plus a margin; -> (padded, top, left) offsets of the photo."""
    h, w = x.shape[:2]
    if periodic and h % multiple == 0 and w % multiple == 0:
        return x, 0, 0
    ph, pw = -(h + 2 * margin) % multiple, -(w + 2 * margin) % multiple
    top, left = margin + ph // 2, margin + pw // 2
    pad = ((top, margin + ph - ph // 2), (left, margin + pw - pw // 2), (0, 0))
    return np.pad(x, pad, mode="wrap" if periodic else "symmetric"), top, left


def translate(translator: Translator, photo: np.ndarray, *, periodic: bool = False, tile: int = TILE,
              progress: Callable[[float], None] | None = None) -> MapSet:
    """(H, W, 3) sRGB photo in [0, 1] -> MapSet of albedo, normal (encoded), height, roughness."""
    photo = np.asarray(photo, np.float32)
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"a photo is (H, W, 3), not {photo.shape}")
    cfg = translator.cfg
    h, w = photo.shape[:2]
    x = prepare_photo(photo, max(float(photo.mean()), MIN_MEAN)).astype(np.float32)
    x, top, left = _padded(x, periodic, cfg.context, cfg.multiple)
    tile = max(cfg.multiple, tile // cfg.multiple * cfg.multiple)
    margin = -(-cfg.context // cfg.multiple) * cfg.multiple
    H, W = x.shape[:2]
    if H <= tile + 2 * margin and W <= tile + 2 * margin:
        raw = translator.raw(x)
    else:
        raw = np.empty((H, W, sum(c for _, c in OUTPUT_LAYOUT)), np.float32)
        starts = [(y, xx) for y in range(0, H, tile) for xx in range(0, W, tile)]
        for i, (y0, x0) in enumerate(starts):
            ys = np.arange(y0 - margin, min(H, y0 + tile) + margin) % H
            xs = np.arange(x0 - margin, min(W, x0 + tile) + margin) % W
            part = translator.raw(x[ys][:, xs])
            raw[y0:y0 + tile, x0:x0 + tile] = part[margin:margin + min(tile, H - y0), margin:margin + min(tile, W - x0)]
            if progress is not None:
                progress((i + 1) / len(starts))
    return _finish(raw[top:top + h, left:left + w])
