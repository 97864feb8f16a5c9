"""A photo -> a generator model file for the user's library, in seconds and without training.

A model generates its detail from the exemplar it carries (engine.generate: "random" mode is
coordinate synthesis from a random start, "blend" is tiling and blending); neither needs a trained
network. So a photo becomes a model by becoming its exemplar:

    albedo     the photo, slow lighting trends divided out (core.photo.seamless.equalise_lighting), shrunk
               by a power of 2 to at most EXEMPLAR_SIDE pixels a side
    height     from the translator (engine.photo.translate), or flat without one
    roughness  from the translator, or a middle grey without one

with default mode "random" and a placeholder network (every weight zero) that the manifest marks
as `"network": "none"`: engine.generate refuses the Neural Draft and Photographic-refined modes of
such a model with one line, instead of drawing a flat grey guide. The card says it was made from a
photo. No bpy here: the add-on's Save as Model operator only reads the image's pixels.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ...core.arch.generator import PeriodicGeneratorConfig, param_shapes
from ...core.latent import LatentLayout
from ...core.maps import PBR_MAPS
from ...core.modelfile import EXEMPLAR_MIN_SIDE, ModelFileError, write_model_file
from ...core.photo.classical_maps import classical_maps, height_strength
from ...core.photo.perspective import straighten as straighten_perspective
from ...core.photo.seamless import analysis_factor, equalise_lighting, luminance
from ...core.photo.upscale import box_shrink
from ...core.synthesis import quilt
from ..library import forget_folder_listings
from ..progress import cancel_point, stage_progress
from ..request import GenerationError
from .pipeline import as_rgb, load_translator
from .translate import translate

EXEMPLAR_SIDE = 1024  # the exemplar's longer side at most (a power-of-2 shrink of the photo)
# A 5-level net (latent scale 16, like the bundled models, so the same resolutions are valid) of
# width 1: a few hundred zero weights. It exists because the model-file format asks for a net.
PLACEHOLDER_NET = PeriodicGeneratorConfig(latent_channels=1, channels=(1, 1, 1, 1, 1), upsample="bilinear")
PLACEHOLDER_LAYOUT = LatentLayout(local_channels=1, scale=PLACEHOLDER_NET.scale)
NO_NETWORK = "none"   # manifest["network"] of a model whose net is a placeholder
FLAT_STRENGTH = 8.0   # normal strength when the height is flat (no translator): nothing to fit
STRENGTH_LIMITS = (1.0, 64.0)

Progress = Callable[[float], None]


@dataclass(frozen=True)
class PhotoModelRequest:
    """Save a photo as a model: `name` (file stem, made safe), into `folder`; maps: height and
    roughness from the translator (a bundled name or a file; empty: the default), else flat;
    source: what the photo was called, for the card; straighten: make lines that converge in
    perspective parallel first."""
    name: str
    folder: str
    maps: bool = True
    translator: str = ""
    engine: str = "auto"
    device: str = "auto"
    source: str = ""
    straighten: bool = True


def safe_model_name(name: str) -> str:
    """A model name that is also a file stem: letters, digits, '-' and '_' (the image's extension
    dropped: 'My wall.jpg' -> 'My_wall')."""
    stem = re.sub(r"\.(png|jpe?g|tiff?|exr|hdr|bmp|tga|webp)$", "", name.strip(), flags=re.IGNORECASE)
    return re.sub(r"[^A-Za-z0-9_-]+", "_", stem).strip("_") or "photo"


def free_model_path(folder: str | os.PathLike, name: str) -> Path:
    """folder/name.safetensors, or name_2, name_3, ... when taken: saving never replaces a model."""
    folder = Path(folder)
    path, n = folder / f"{name}.safetensors", 2
    while path.exists():
        path, n = folder / f"{name}_{n}.safetensors", n + 1
    return path


def fit_normal_strength(height: np.ndarray, normal: np.ndarray) -> float:
    """The strength at which normal_from_height(height) best matches the translator's own normal
    map (least squares on the slopes, border pixels left out: the photo does not wrap)."""
    h = np.asarray(height, np.float64)[..., 0]
    n = np.asarray(normal, np.float64) * 2.0 - 1.0
    dx = (np.roll(h, -1, 1) - np.roll(h, 1, 1)) * 0.5
    dy = (np.roll(h, 1, 0) - np.roll(h, -1, 0)) * 0.5
    nz = np.maximum(n[..., 2], 1e-3)
    gx, gy = -n[..., 0] / nz, -n[..., 1] / nz  # = strength * slope
    inner = (slice(1, -1), slice(1, -1))
    energy = float((dx[inner] ** 2 + dy[inner] ** 2).sum())
    if energy < 1e-12:
        return FLAT_STRENGTH
    strength = float((gx[inner] * dx[inner] + gy[inner] * dy[inner]).sum()) / energy
    return float(np.clip(strength, *STRENGTH_LIMITS))


def photo_exemplar(photo, translator=None, progress: Progress | None = None,
                   should_stop: Callable[[], bool] | None = None, classical: bool = False,
                   straighten: bool = True) -> tuple[np.ndarray, float]:
    """A photo -> ((h, w, 5) exemplar stack in GENERATED_CHANNELS order, normal strength). Relief
    from the translator; else from luminance (core.photo.classical_maps) when `classical`; else flat.
    straighten: first make lines that converge in perspective parallel (core.photo.perspective)."""
    photo = as_rgb(photo)
    cancel_point(should_stop)
    if straighten:
        photo = straighten_perspective(photo, luminance(photo))[0]
    equalised = equalise_lighting(photo)
    albedo = box_shrink(equalised, analysis_factor(equalised.shape, EXEMPLAR_SIDE))
    h, w = albedo.shape[:2]
    if min(h, w) < EXEMPLAR_MIN_SIDE:
        raise GenerationError(f"The image is {photo.shape[1]}x{photo.shape[0]} px: too narrow for a model "
                              f"(shrunk to {EXEMPLAR_SIDE} px long it is under {EXEMPLAR_MIN_SIDE} px wide).")
    if translator is None and classical:
        maps = classical_maps(albedo, periodic=False)
        height, roughness, strength = maps["height"], maps["roughness"], height_strength()
    elif translator is None:
        height = np.full((h, w, 1), 0.5, np.float32)
        roughness = np.full((h, w, 1), 0.5, np.float32)
        strength = FLAT_STRENGTH
    else:
        report = stage_progress(progress, should_stop, 0.1, 0.8)
        report(0.0)
        maps = translate(translator, albedo, periodic=False, progress=report)
        report(1.0)
        height, roughness = maps["height"], maps["roughness"]
        strength = fit_normal_strength(height, maps["normal"])
    stack = np.concatenate([albedo, height, roughness], axis=-1).astype(np.float32)
    return np.clip(stack, 0.0, 1.0), strength


def placeholder_tensors() -> dict[str, np.ndarray]:
    """Every weight of PLACEHOLDER_NET, zero (the net is never run: see NO_NETWORK)."""
    return {name: np.zeros(shape, np.float32) for name, shape in param_shapes(PLACEHOLDER_NET).items()}


def photo_model_manifest(name: str, exemplar: np.ndarray, strength: float, source: str = "",
                         translator: str | None = None, relief: str = "flat relief") -> dict:
    source = source or name
    relief = f"relief from the translator '{translator}'" if translator is not None else relief
    return {
        "name": name,
        "kind": "generator",
        "network": NO_NETWORK,
        "architecture": {"name": PLACEHOLDER_NET.name, "config": PLACEHOLDER_NET.to_dict()},
        "maps": [{"name": m.name, "channels": m.channels, "colorspace": m.colorspace,
                  **({"derived_from": "height"} if m.name == "normal" else {})} for m in PBR_MAPS],
        "latent": PLACEHOLDER_LAYOUT.to_dict(),
        "normal_strength": float(strength),
        "normal_convention": "OpenGL",
        "real_world_size_m": 1.0,
        "description": f"Made from the photo '{source}' (no training; {relief}).",
        "photo": {"source": source, "translator": translator, "size": [int(exemplar.shape[1]), int(exemplar.shape[0])]},
        "license": "the source photo's",
        "credits": [],
        "metrics": {},
        "exemplar": {"guide_scale": 1, "normal_strength": float(strength), "periodic": False,
                     # measured once here, so the first Generate skips it (core.synthesis.quilt: joined patches)
                     **quilt.measure(exemplar), "default_mode": "random"},
    }


def save_photo_model(photo, request: PhotoModelRequest, progress: Progress | None = None,
                     should_stop: Callable[[], bool] | None = None) -> tuple[Path, dict]:
    """Write the photo's model into request.folder under a free name; -> (path, manifest).
    GenerationError (one sentence) when the photo or the translator cannot be used or the file
    cannot be written; GenerationCancelled when should_stop() says so (nothing is written then)."""
    translator = load_translator(request.translator, request.engine, request.device) if request.maps else None
    exemplar, strength = photo_exemplar(photo, translator, progress, should_stop,
                                        classical=request.maps and translator is None, straighten=request.straighten)
    name = safe_model_name(request.name)
    translator_name = None
    if translator is not None:
        translator_name = translator.model.manifest.get("name") or Path(translator.model.path).stem
    relief = "relief from luminance (classical)" if request.maps else "flat relief"
    manifest = photo_model_manifest(name, exemplar, strength, request.source, translator_name, relief)
    cancel_point(should_stop)
    try:
        folder = Path(request.folder)
        folder.mkdir(parents=True, exist_ok=True)
        path = write_model_file(free_model_path(folder, name), placeholder_tensors(), manifest, exemplar=exemplar)
    except ModelFileError as exc:  # a bug here, not the user's: still one line
        raise GenerationError(str(exc)) from None
    except OSError as exc:
        raise GenerationError(f"Could not write the model into '{request.folder}': {exc.strerror or exc}.") from None

    forget_folder_listings()
    if progress is not None:
        progress(1.0)
    return path, manifest


def photo_model_runner(photo):
    """A job function for engine.jobs: run(request, progress=, should_stop=) -> (path, manifest)."""
    def run(request: PhotoModelRequest, progress: Progress | None = None,
            should_stop: Callable[[], bool] | None = None) -> tuple[Path, dict]:
        return save_photo_model(photo, request, progress, should_stop)
    return run
