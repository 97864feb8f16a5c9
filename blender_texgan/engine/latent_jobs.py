"""The add-on's latent tools as engine jobs (engine.jobs: run(request, progress=, should_stop=) ->
(result, manifest)) and the plain data they keep: Variations of This (engine.latent.variations), the
morph slider's two ends (generated once, mixed by core.morph on every move) and Transform
Material (engine.material_translation). No bpy here: blender.latent and blender.material_translation read
pixels and write datablocks; this module does the rest.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Callable

import numpy as np

from ..core.maps import MapSet
from ..core.modelfile import ModelFileError, read_manifest
from ..core.morph import morph_maps
from .generate import generate
from .latent.variations import VariationsRequest, texture_variations
from .library import bundled_translators
from .material_translation import MAPS_TO_MAPS, load_material_translator, transform_maps
from .photo.pipeline import photo_from_pixels
from .photo.save_as_model import fit_normal_strength
from .request import GenerationRequest

Progress = Callable[[float], None] | None
ShouldStop = Callable[[], bool] | None


# ---------------------------------------------------------------- Variations of This

def variations_manifest(request: VariationsRequest) -> dict:
    """What build_material reads to name and describe a variant's material."""
    return {"name": f"{request.name} variation",
            "description": f"A variation of the image '{request.name}' (strength {request.strength:g}).",
            "source": "variation"}


def variations_runner(photo: np.ndarray):
    """A job function: the picked image's pixels -> (list of MapSets, manifest)."""
    def run(request: VariationsRequest, progress: Progress = None, should_stop: ShouldStop = None):
        return texture_variations(photo, request, progress, should_stop), variations_manifest(request)
    return run


def preview_pixels(albedo: np.ndarray, size: int) -> np.ndarray:
    """An (H, W, 3) sRGB albedo -> a size x size preview icon's flat RGBA buffer (linear values,
    rows bottom to top, as bpy.utils.previews takes them)."""
    h, w = albedo.shape[:2]
    rows = (np.arange(size) * h) // size
    cols = (np.arange(size) * w) // size
    rgba = np.ones((size, size, 4), np.float32)
    rgba[..., :3] = np.clip(albedo[rows][:, cols, :3], 0.0, 1.0) ** 2.2
    return rgba[::-1].ravel()


# ---------------------------------------------------------------- the morph slider

@dataclass(frozen=True)
class MorphEndsRequest:
    """The two ends of a morph: `generation` makes end A; end B is the same with seed_b."""
    generation: GenerationRequest
    seed_b: int

    @property
    def key(self) -> tuple:
        g = self.generation
        return (g.model, g.seed, self.seed_b, g.resolution, g.mode)


@dataclass
class MorphEnds:
    a: MapSet
    b: MapSet
    normal_strength: float
    manifest: dict  # the model's (names the material)

    def mix(self, t: float) -> MapSet:
        """The material at factor t (0: end A, 1: end B); every frame tiles as both ends do."""
        return morph_maps(self.a, self.b, min(max(float(t), 0.0), 1.0), self.normal_strength)


def morph_ends(request: MorphEndsRequest, progress: Progress = None, should_stop: ShouldStop = None):
    """A job function: both ends generated -> (MorphEnds, the model's manifest)."""
    def half(start: float):
        return None if progress is None else (lambda f: progress(start + 0.5 * f))

    a, manifest = generate(request.generation, half(0.0), should_stop)
    b, _ = generate(replace(request.generation, seed=request.seed_b), half(0.5), should_stop)
    strength = 0.5 * (fit_normal_strength(a["height"], a["normal"]) + fit_normal_strength(b["height"], b["normal"]))
    return MorphEnds(a, b, float(strength), manifest), manifest


class EndsCache:
    """The ends of the last few morphs, by MorphEndsRequest.key: a slider move only mixes them."""

    def __init__(self, size: int = 2):
        self.size = size
        self._ends: dict[tuple, MorphEnds] = {}

    def get(self, key: tuple) -> MorphEnds | None:
        return self._ends.get(tuple(key))

    def put(self, key: tuple, ends: MorphEnds) -> None:
        self._ends.pop(tuple(key), None)
        self._ends[tuple(key)] = ends
        while len(self._ends) > self.size:
            self._ends.pop(next(iter(self._ends)))

    def clear(self) -> None:
        self._ends.clear()


ENDS = EndsCache()


# ---------------------------------------------------------------- Transform Material

@dataclass(frozen=True)
class TransformJob:
    translator: str       # a bundled maps_to_maps translator's name or a file path
    strength: float = 1.0
    engine: str = "auto"
    device: str = "auto"
    name: str = "material"


def translator_label(block: dict, name: str) -> str:
    """'Clean metal -> Rusty metal' from a translator manifest's from/to words (else its name)."""
    source, target = block.get("from"), block.get("to")
    if not (source and target):
        return name.replace("_", " ").capitalize()
    return f"{source[:1].upper()}{source[1:]} -> {target[:1].upper()}{target[1:]}"


def material_translators() -> list[tuple[str, str, str]]:
    """(name, label, description) of each bundled material translator (maps_to_maps); panels ask
    on every redraw, so each file's manifest is read once (until it changes)."""
    items = []
    for name, path in bundled_translators(MAPS_TO_MAPS).items():
        item = _translator_item(name, str(path), path.stat().st_mtime_ns)
        if item is not None:
            items.append(item)
    return items


@lru_cache(maxsize=32)
def _translator_item(name: str, path: str, mtime_ns: int) -> tuple[str, str, str] | None:
    try:
        manifest = read_manifest(path)
    except ModelFileError:
        return None
    return name, translator_label(manifest.get("translator") or {}, name), manifest.get("description", "")


def transform_runner(maps: MapSet):
    """A job function: a material's maps -> (translated MapSet, a manifest naming the result)."""
    def run(request: TransformJob, progress: Progress = None, should_stop: ShouldStop = None):
        translator = load_material_translator(request.translator, engine=request.engine, device=request.device)
        out = transform_maps(maps, translator=translator, strength=request.strength)
        if progress is not None:
            progress(1.0)
        return out, {"name": request.name, "to": (translator.block.get("to") or request.translator)}
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
