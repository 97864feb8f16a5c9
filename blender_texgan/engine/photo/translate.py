"""Run a translator model on a photo: photo -> albedo, normal, height and roughness maps.

The net is told the light's direction, and only knows light from a 45-degree wedge of azimuths:
the photo is turned by a symmetry of the square that brings its light there, and the maps are
turned back (normal vectors with them). When the light is not known, it is found by analysis by
synthesis: a crop of the photo is translated under each candidate light, the result is shaded
again under that light, and the light whose shading best reproduces the crop wins.

Large photos run in tiles whose offsets are multiples of the net's pooling grid, each read with a
margin of the net's full context, so the tiled result equals one pass over the whole photo (no
tile seams; a test checks it). A periodic photo wraps around (periodic maps come out); any other
photo is mirrored at its borders first.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ...core.arch.photo_translator import (
    CANDIDATE_LIGHTS,
    OUTPUT_LAYOUT,
    net_input,
    photo_scale,
    translator_config_from_manifest,
    turn_image,
    turn_vectors,
    unturn_image,
    unturn_vectors,
    wedge_turn,
)
from ...core.maps import MapSet
from ...core.modelfile import ModelFile, check_role
from ..nets.image_net import ImageNet
from ..nets.numpy_unet import NumpyUNet, finish_outputs

TILE = 512  # output pixels per tile side (the numpy engine's memory stays under ~1 GB)


class Translator:
    """A loaded translator ready to run: raw((H, W, 3) prepared input) -> (H, W, 8) raw outputs."""

    def __init__(self, model: ModelFile, engine: str = "auto", device: str = "auto"):
        check_role(model.manifest, model.path, ("photo_to_maps",))

        self.model = model
        cfg = self.cfg = translator_config_from_manifest(model.manifest["architecture"])
        self.net = ImageNet(model.tensors, engine, device, lambda: _torch_translator(cfg),
                            lambda tensors: NumpyUNet(cfg, tensors))
        self.engine, self.device = self.net.engine, self.net.device

    def raw(self, x: np.ndarray) -> np.ndarray:
        return self.net(x)


def _torch_translator(cfg):
    from ..nets.photo_translator import build_translator

    return build_translator(cfg)


def _finish(raw: np.ndarray) -> MapSet:
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


LIGHT_CROP = 256  # side of the crop the light is estimated on


def _shading_error(photo: np.ndarray, maps: MapSet, light: np.ndarray) -> float:
    """How badly albedo * (ambient + direct * max(0, n.l)) reproduces the photo, ambient and direct
    fitted by least squares (in linear light)."""
    n = maps["normal"] * 2.0 - 1.0
    lin_albedo = (maps["albedo"] ** 2.2).reshape(-1, 3)
    ndl = np.clip(n.reshape(-1, 3) @ light, 0.0, None)[:, None]
    target = (photo.reshape(-1, 3) ** 2.2)
    A = np.stack([lin_albedo.ravel(), (lin_albedo * ndl).ravel()], 1)
    coef, *_ = np.linalg.lstsq(A, target.ravel(), rcond=None)
    return float(np.abs(A @ np.clip(coef, 0.0, None) - target.ravel()).mean())


def estimate_light(translator: Translator, photo: np.ndarray) -> np.ndarray:
    """The candidate light (core.arch.photo_translator.CANDIDATE_LIGHTS) that explains the photo best."""
    h, w = photo.shape[:2]
    side = min(LIGHT_CROP, h, w) // translator.cfg.multiple * translator.cfg.multiple
    y, x = (h - side) // 2, (w - side) // 2
    crop = photo[y:y + side, x:x + side]
    scale = photo_scale(photo.mean())
    b = min(16, side // 8)  # the crop's wrap-around edge is not real content
    errors = []
    for light in CANDIDATE_LIGHTS:
        maps = _run(translator, crop, scale, light, periodic=True, tile=side)
        inner = {k: v[b:-b, b:-b] for k, v in maps.items()}
        errors.append(_shading_error(crop[b:-b, b:-b], inner, light))
    return CANDIDATE_LIGHTS[int(np.argmin(errors))]


def _run(translator: Translator, photo: np.ndarray, scale: float, light, *, periodic: bool, tile: int,
         progress: Callable[[float], None] | None = None) -> MapSet:
    """The net over the photo turned into the light wedge, tiled; maps turned back."""
    k = wedge_turn(light)
    cfg = translator.cfg
    turned = turn_image(photo, k)
    h, w = turned.shape[:2]
    x = net_input(np.ascontiguousarray(turned), scale, turn_vectors(light, k))
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
    maps = {name: np.ascontiguousarray(unturn_image(m, k)) for name, m in _finish(raw[top:top + h, left:left + w]).items()}
    maps["normal"] = unturn_vectors(maps["normal"] * 2.0 - 1.0, k) * 0.5 + 0.5
    return maps


def translate(translator: Translator, photo: np.ndarray, *, periodic: bool = False, light=None,
              tile: int = TILE, progress: Callable[[float], None] | None = None) -> MapSet:
    """(H, W, 3) sRGB photo in [0, 1] -> MapSet of albedo, normal (encoded), height, roughness.
    light: the light's direction (3,), OpenGL tangent space; None: estimated from the photo."""
    photo = np.asarray(photo, np.float32)
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"a photo is (H, W, 3), not {photo.shape}")
    if light is None:
        light = estimate_light(translator, photo)
    return _run(translator, photo, photo_scale(photo.mean()), light, periodic=periodic, tile=tile, progress=progress)
