"""Photo -> tileable PBR material: make it seamless (core.photo.seamless), upscale it, and separate it
into maps with a translator (engine.photo.translate), or, when no translator is installed, with the
classical luminance-as-height method (core.photo.classical_maps). The one pipeline behind the terminal's
`seamless` / `photo2mat` commands and the add-on's Image to Material panel.

    maps = photo_to_material(photo, PhotoRequest(size=512), progress, should_stop)
    job = RUNNER.submit(request, run=photo_runner(photo))     # the same, on the job system

Every error is a GenerationError (one sentence for the user); `should_stop()` is polled between
stages and tiles and makes it raise GenerationCancelled.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...core.maps import MapSet
from ...core.modelfile import read_model_file
from ...core.normals import normal_from_height
from ...core.photo.classical_maps import classical_maps
from ...core.photo.seamless import check_photo, check_size, make_seamless
from ...core.photo.upscale import periodic_resize
from ..library import DEFAULT_TRANSLATOR, bundled_translators, resolve_translator
from ..progress import Progress, cancel_point, stage_progress
from ..request import MAX_RESOLUTION, GenerationError
from .translate import Translator, translate

UPSCALE_FACTORS = (1, 2, 4)


@dataclass(frozen=True)
class PhotoRequest:
    """What to make of a photo. size: output side before upscaling (used when seamless; without
    it the photo keeps its own framing and size); seamless: synthesise a tileable texture from the
    photo first; maps: separate it into albedo, normal, height and roughness (else the photo is the
    albedo, with flat relief); upscale: 1, 2 or 4; translator: a bundled translator's name or a
    file path (empty: the bundled default); name: what the material is called (the image's name);
    straighten: when seamless, first make lines that converge in perspective parallel."""
    size: int = 1024
    seamless: bool = True
    maps: bool = True
    upscale: int = 1
    seed: int = 0
    translator: str = ""
    engine: str = "auto"
    device: str = "auto"
    name: str = "photo"
    straighten: bool = True


_TRANSLATORS: dict = {}


def load_translator(name: str, engine: str, device: str):
    """Translators are loaded once per (file, engine, device): a few MB of weights. None when no
    file is named and no translator is bundled: then the classical maps serve."""
    if not (name or "").strip() and DEFAULT_TRANSLATOR not in bundled_translators():
        return None  # the classical maps (core.photo.classical_maps) serve
    engine = "auto" if engine == "external" else engine  # translators run in this Python
    path = resolve_translator(name)
    key = (str(path), path.stat().st_mtime_ns if path.exists() else 0, engine, device)
    if key not in _TRANSLATORS:
        translator = Translator(read_model_file(path), engine, device)  # it picks the engine
        _TRANSLATORS.clear()
        _TRANSLATORS[key] = translator
    return _TRANSLATORS[key]


def flat_maps(albedo: np.ndarray) -> MapSet:
    """The photo as albedo, with flat height and normal and middle roughness."""
    h, w = albedo.shape[:2]
    height = np.full((h, w, 1), 0.5, np.float32)
    return {"albedo": albedo, "normal": normal_from_height(height[..., 0], 1.0),
            "roughness": np.full((h, w, 1), 0.5, np.float32), "height": height}


def sentence(exc: Exception) -> str:
    """A ValueError from core ('the image is 20x20 px: too small ...') as a sentence for the user."""
    text = str(exc).strip() or type(exc).__name__
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def grey_to_rgb(a: np.ndarray) -> np.ndarray:
    """(H, W, C) -> (H, W, 3): grey repeated, channels past the third (alpha) dropped."""
    return np.repeat(a[..., :1], 3, axis=2) if a.shape[2] < 3 else a[..., :3]


def as_rgb(photo) -> np.ndarray:
    """(H, W), (H, W, 1..4) -> (H, W, 3) float32 in [0, 1]: grey kept as RGB, alpha dropped.
    GenerationError for anything else (core.photo.seamless.check_photo's checks: not an image, too
    small, NaN)."""
    a = np.asarray(photo, np.float32)
    if a.ndim == 3 and a.shape[2] > 4:
        raise GenerationError(f"Expected an image of (height, width, 1 to 4 channels), not {a.shape}.")
    try:
        return grey_to_rgb(check_photo(a))
    except ValueError as exc:
        raise GenerationError(sentence(exc)) from None


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Scene-linear values -> sRGB-encoded values in [0, 1] (the piecewise sRGB curve)."""
    x = np.clip(np.asarray(linear, np.float32), 0.0, 1.0)
    srgb = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.clip(srgb, 0.0, 1.0).astype(np.float32)


def photo_from_pixels(flat: np.ndarray, width: int, height: int, channels: int, linear: bool) -> np.ndarray:
    """A Blender image's pixel buffer (rows bottom to top, `channels` per pixel) -> (H, W, 3) sRGB
    float32 in [0, 1], rows top to bottom: alpha dropped, grey kept as RGB, linear values encoded."""
    a = np.asarray(flat, np.float32).reshape(height, width, channels)[::-1]
    rgb = np.nan_to_num(grey_to_rgb(a), nan=0.0, posinf=1.0, neginf=0.0)
    return linear_to_srgb(rgb) if linear else np.clip(rgb, 0.0, 1.0)


def check_request(shape: tuple[int, ...], request: PhotoRequest) -> None:
    """GenerationError when the request cannot be served for a photo of this (H, W, ...) shape."""
    if request.upscale not in UPSCALE_FACTORS:
        raise GenerationError(f"Upscale must be 1, 2 or 4, not {request.upscale}.")
    if request.seamless:
        try:
            check_size(request.size, request.upscale)
        except ValueError as exc:
            raise GenerationError(sentence(exc)) from None
    elif max(shape[:2]) * request.upscale > MAX_RESOLUTION:
        raise GenerationError(f"The image upscaled {request.upscale}x would be over {MAX_RESOLUTION} px a side: "
                              "choose a smaller upscale, or make it seamless at a smaller size.")


def resize_photo(photo: np.ndarray, factor: int) -> np.ndarray:
    """Bicubic upscale of a photo that does not tile: mirrored a few pixels past its borders first,
    so no border is blended with the opposite one."""
    if factor == 1:
        return photo
    pad = 2
    h, w = photo.shape[:2]
    padded = np.pad(photo, ((pad, pad), (pad, pad), (0, 0)), mode="symmetric")
    big = periodic_resize(padded, (h + 2 * pad) * factor, (w + 2 * pad) * factor)
    return np.clip(big[pad * factor:(pad + h) * factor, pad * factor:(pad + w) * factor], 0.0, 1.0)


def photo_to_material(photo: np.ndarray, request: PhotoRequest, progress: Progress | None = None,
                      should_stop: Callable[[], bool] | None = None) -> MapSet:
    """(H, W, 3) sRGB photo in [0, 1] (grey and RGBA are taken too) -> MapSet (albedo, normal,
    roughness, height). Tileable exactly when request.seamless; otherwise the photo's own framing."""
    photo = as_rgb(photo)
    check_request(photo.shape, request)
    translator = load_translator(request.translator, request.engine, request.device) if request.maps else None
    classical = request.maps and translator is None
    seamless_share = 0.5 if request.maps else 1.0
    cancel_point(should_stop)
    if request.seamless:
        try:
            texture = make_seamless(photo, request.size, seed=request.seed, upscale=request.upscale,
                                    straighten=request.straighten,
                                    progress=stage_progress(progress, should_stop, 0.0, seamless_share))
        except ValueError as exc:
            raise GenerationError(sentence(exc)) from None
    else:
        texture = resize_photo(photo, request.upscale)
    cancel_point(should_stop)
    if translator is None:
        texture = np.ascontiguousarray(texture, np.float32)
        maps = classical_maps(texture, periodic=request.seamless) if classical else flat_maps(texture)
        if progress is not None:
            progress(1.0)
        return maps

    report = stage_progress(progress, should_stop, seamless_share, 1.0 - seamless_share)
    report(0.0)
    maps = translate(translator, texture, periodic=request.seamless, progress=report)
    report(1.0)
    return {"albedo": maps["albedo"], "normal": maps["normal"], "roughness": maps["roughness"],
            "height": maps["height"]}


MAPS_DESCRIPTION = {"translator": "maps from the translator", "classical": "maps from luminance (classical)",
                    "flat": "the photo as albedo, flat relief"}


def maps_source(request: PhotoRequest) -> str:
    """Where a request's maps come from: translator, classical or flat."""
    if not request.maps:
        return "flat"
    named = (request.translator or "").strip()
    return "translator" if named or DEFAULT_TRANSLATOR in bundled_translators() else "classical"


def material_manifest(request: PhotoRequest) -> dict:
    """What a photo material's builder needs to name and describe it (the part of a model's
    manifest that blender.operators.build_material and mark_asset read)."""
    made = "made seamless" if request.seamless else "as photographed"
    maps = MAPS_DESCRIPTION[maps_source(request)]
    return {"name": request.name, "description": f"Made from the image '{request.name}' ({made}; {maps}).",
            "source": "photo"}


def photo_runner(photo: np.ndarray):
    """A job function for engine.jobs: run(request, progress=, should_stop=) -> (MapSet, manifest)."""
    def run(request: PhotoRequest, progress: Progress | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[MapSet, dict]:
        return photo_to_material(photo, request, progress, should_stop), material_manifest(request)
    return run


def map_from_pixels(flat: np.ndarray, width: int, height: int, channels: int, colour: bool,
                    linear: bool) -> np.ndarray:
    """A Blender image's pixel buffer -> an (H, W, 3) sRGB map (colour) or an (H, W, 1) data map
    (its first channel), rows top to bottom, values in [0, 1]."""
    if colour:
        return photo_from_pixels(flat, width, height, channels, linear)
    a = np.asarray(flat, np.float32).reshape(height, width, channels)[::-1, :, :1]
    return np.clip(np.nan_to_num(a, nan=0.0), 0.0, 1.0).astype(np.float32)


def blender_pixels(array: np.ndarray) -> np.ndarray:
    """An (H, W, 1 or 3) map -> the flat RGBA buffer Blender stores (rows bottom to top)."""
    h, w = array.shape[:2]
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = array[..., :3] if array.shape[2] >= 3 else np.repeat(array[..., :1], 3, axis=-1)
    return rgba[::-1].ravel()
