"""The infinite material's work off the UI thread: a model's (or a photo's) exemplar -> the
seed-independent images of core.infinite. Runs as an engine job like generate (run(request,
progress=, should_stop=) -> (InfiniteImages, manifest)); raises GenerationError / ModelFileError."""
from __future__ import annotations

from ..core.infinite import InfiniteImages, prepare, with_png
from ..core.maps import stack_channels
from ..core.modelfile import MAKES_MATERIALS, read_model_file
from .library import resolve_model
from .request import GenerationError


def model_images(request, progress=None, should_stop=None) -> tuple[InfiniteImages, dict]:
    """The request's model -> (InfiniteImages of its exemplar, manifest). A model without an
    exemplar is refused in one line: the infinite material is its exemplar, sampled at render time."""
    path = resolve_model(request.model)
    model = read_model_file(path, MAKES_MATERIALS)
    if model.exemplar is None:
        raise GenerationError(f"Model '{model.name}' carries no exemplar, and an infinite material samples "
                              "the exemplar at render time: choose Baked Maps for it.")
    try:
        prepared = with_png(prepare(model.exemplar, normal_strength(model.manifest)))
    except ValueError as exc:
        raise GenerationError(f"Model '{model.name}' has an exemplar that cannot be used: {exc}.") from None
    if progress:
        progress(1.0)
    return prepared, model.manifest


def normal_strength(manifest: dict) -> float:
    """The relief, in exemplar pixels, of a full height step: the exemplar's, else the model's."""
    block = manifest.get("exemplar") or {}
    return float(block.get("normal_strength", manifest.get("normal_strength", 6.0)))


def maps_images(maps: dict, manifest: dict) -> InfiniteImages:
    """A generated or photo MapSet (albedo, height, roughness at least) as the exemplar."""
    stack = stack_channels({k: maps[k] for k in ("albedo", "height", "roughness")})
    try:
        return with_png(prepare(stack.transpose(1, 2, 0), normal_strength(manifest)))
    except ValueError as exc:
        raise GenerationError(f"These maps cannot be an infinite material's exemplar: {exc}.") from None
