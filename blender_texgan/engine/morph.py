"""Morph sequences between two materials: each end a seed of a model or an image (made seamless,
then separated into maps, as Image to Material does). core.morph mixes them; every frame tiles.

    frames = morph_sequence(MorphRequest("stone_wall", "0", "7", frames=24, size=512))
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from ..core.maps import MapSet
from ..core.morph import morph_maps, morph_times
from .generate import GenerationRequest, check_seed, generate
from .photo_model import fit_normal_strength
from .request import GenerationError


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
    path = Path(source).expanduser()
    if not path.is_file():
        raise GenerationError(f"'{source}' is neither a seed nor an image file.")
    from .image_files import load_image, reason
    from .photo import PhotoRequest, photo_to_material

    try:
        pixels = load_image(path).pixels
    except Exception as exc:  # unreadable, too small, too large...: one line
        raise GenerationError(f"{path.name}: {reason(exc, path)}") from None
    return photo_to_material(pixels, PhotoRequest(size=request.size, engine=request.engine, device=request.device,
                                                  name=path.stem))


def morph_sequence(request: MorphRequest, progress: Callable[[float], None] | None = None) -> Iterator[MapSet]:
    """The frames, first to last (the first is the start material, the last the end one)."""
    times = morph_times(request.frames)
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
