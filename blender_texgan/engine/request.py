"""A generation request and the errors it can end in: the leaf every engine module shares.

The add-on's UI state becomes a GenerationRequest at the edge (operators, gallery, the terminal);
engines see only that. Every error's str() is one sentence for the user.
"""
from __future__ import annotations

from dataclasses import dataclass

MIN_RESOLUTION, MAX_RESOLUTION = 32, 8192
ENGINES = ("auto", "torch", "numpy", "external")
# How a model with an exemplar generates: "refined" (the net lays out, the exemplar refines: the
# default), "neural" (the net alone: a draft, and the only mode of a model without an exemplar),
# "random" (refinement from a random start, no net), "blend" (tiling and blending of the exemplar).
MODES = ("auto", "refined", "neural", "random", "blend")


class GenerationError(RuntimeError):
    """A request that cannot be served; str() is one sentence for the user."""


class EngineUnavailable(GenerationError):
    pass


class GenerationCancelled(GenerationError):
    def __init__(self):
        super().__init__("Generation was cancelled.")


@dataclass(frozen=True)
class GenerationRequest:
    model: str          # a bundled model's name, or a path to a .safetensors model file
    resolution: int = 1024
    seed: int = 0
    device: str = "auto"  # torch engine: auto / cpu / cuda / mps
    engine: str = "auto"  # auto / torch / numpy / external
    python: str = ""      # external engine: the interpreter that runs the worker
    mode: str = "auto"    # auto / refined / neural / random (see MODES)


MAX_SEED = 2 ** 32 - 1


def check_seed(seed: int) -> None:
    if not 0 <= seed <= MAX_SEED:
        raise GenerationError(f"Seed must be between 0 and {MAX_SEED}, not {seed}.")


def check_engine(name: str) -> None:
    if name not in ENGINES:
        raise GenerationError(f"Engine must be one of {', '.join(ENGINES)}, not '{name}'.")
