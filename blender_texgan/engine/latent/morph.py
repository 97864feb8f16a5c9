"""Morph sequences between two materials: each end a seed of a model or an image (made seamless,
then separated into maps, as Image to Material does). core.morph mixes them; every frame tiles.

    frames = morph_sequence(MorphRequest("stone_wall", "0", "7", frames=24, size=512))
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ...core.latent import seed_latent
from ...core.maps import MapSet, complete_map_set, split_channels
from ...core.morph import morph_maps, morph_times, slerp
from ..generate import GenerationRequest, Runner, check_resolution, check_seed, generate, load_runner, pick_engine
from ..image_files import load_image, reason
from ..library import resolve_model
from ..photo.pipeline import PhotoRequest, photo_to_material
from ..photo.save_as_model import fit_normal_strength, photo_exemplar
from ..progress import Progress
from ..request import GenerationError
from .variations import encode_texture, latent_window


@dataclass(frozen=True)
class MorphRequest:
    model: str          # the model that makes the ends given as seeds
    start: str          # a seed ("12") or an image path
    end: str
    frames: int = 24
    size: int = 512
    engine: str = "auto"
    device: str = "auto"


def is_seed(source: str) -> bool:
    return source.strip().lstrip("-").isdigit()


def end_maps(request: MorphRequest, source: str) -> MapSet:
    """One end of the morph as a MapSet of request.size."""
    if is_seed(source):
        seed = int(source)
        check_seed(seed)
        maps, _ = generate(GenerationRequest(request.model, request.size, seed, request.device, request.engine))
        return maps

    return photo_to_material(load_end_image(source), PhotoRequest(size=request.size, engine=request.engine,
                                                                  device=request.device, name=Path(source).stem))


def load_end_image(source: str) -> np.ndarray:
    """An end given as an image path -> its pixels; GenerationError (one line) when unusable."""
    path = Path(source).expanduser()
    if not path.is_file():
        raise GenerationError(f"'{source}' is neither a seed nor an image file.")

    try:
        return load_image(path).pixels
    except Exception as exc:  # unreadable, too small, too large...: one line
        raise GenerationError(f"{path.name}: {reason(exc, path)}") from None


def morph_sequence(request: MorphRequest, progress: Callable[[float], None] | None = None) -> Iterator[MapSet]:
    """The frames, first to last (the first is the start material, the last the end one). A VAE
    model walks its latent space (latent_sequence); any other mixes the two ends' detail."""
    times = morph_times(request.frames)
    runner = load_runner(resolve_model(request.model), pick_engine(request.engine, request.device), request.device)
    if runner.is_vae:
        yield from latent_sequence(runner, request, times, progress)
        return
    a = end_maps(request, request.start)
    b = end_maps(request, request.end)
    if a["albedo"].shape != b["albedo"].shape:
        raise GenerationError(f"the two ends came out {a['albedo'].shape[:2]} and {b['albedo'].shape[:2]} px: "
                              "give both the same --size")
    strength = 0.5 * (fit_normal_strength(a["height"], a["normal"]) + fit_normal_strength(b["height"], b["normal"]))
    for i, t in enumerate(times):
        yield morph_maps(a, b, float(t), strength)
        if progress is not None:
            progress((i + 1) / len(times))


def end_latent(runner: Runner, request: MorphRequest, source: str) -> np.ndarray:
    """One end as a VAE latent for a request.size texture: a seed's N(0, 1) draw, or an image's
    code (made into an exemplar as Save as Model does, encoded at the net's scale)."""
    if is_seed(source):
        seed = int(source)
        check_seed(seed)
        return seed_latent(runner.layout, seed, request.size)[0]

    exemplar, _ = photo_exemplar(load_end_image(source), classical=True)
    return latent_window(encode_texture(runner, exemplar), request.size // runner.cfg.scale, np.random.default_rng(0))


def latent_sequence(runner: Runner, request: MorphRequest, times, progress) -> Iterator[MapSet]:
    """Frames decoded from the slerp between the two ends' latents: the layout itself changes,
    smoothly; every frame is the VAE decoder's output, so it tiles."""
    check_resolution(request.size, runner.cfg.scale)
    a, b = end_latent(runner, request, request.start), end_latent(runner, request, request.end)
    strength = float(runner.model.manifest["normal_strength"])
    for i, t in enumerate(times):
        raw = runner.forward(slerp(a, b, float(t)))
        yield complete_map_set(split_channels(raw), strength)
        if progress is not None:
            progress((i + 1) / len(times))


# ---------------------------------------------------------------- the add-on's morph slider: its two ends

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


def morph_ends(request: MorphEndsRequest, progress: Progress | None = None,
            should_stop: Callable[[], bool] | None = None):
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
