"""Material translation: a MapSet in, the same material translated (e.g. clean -> rusty metal) out.

A maps_to_maps translator (core.maps_translator_arch) reads the albedo, height and roughness
together and writes them together, so the maps stay aligned; the normal is derived again from the
translated height. Engines: torch or numpy ("auto": torch when importable). One pass over the whole
image with wrap-around everywhere: a periodic input gives an exactly periodic output.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.maps import GENERATED_CHANNELS, MapSet, complete_map_set, split_channels, stack_channels
from ..core.maps_translator_arch import blend, maps_translator_config_from_manifest
from ..core.modelfile import ModelFile, ModelFileError, read_model_file
from .request import GenerationError

MAPS_TO_MAPS = "maps_to_maps"


@dataclass(frozen=True)
class TransformRequest:
    translator: str          # a bundled maps translator's name, or a path to its .safetensors file
    strength: float = 1.0    # 0: the maps unchanged; 1: fully translated; between: a straight mix
    normal_strength: float | None = None  # relief of the re-derived normal (None: the translator's)
    engine: str = "auto"     # auto / torch / numpy
    device: str = "auto"     # torch engine: auto / cpu / cuda / mps


class MapsTranslator:
    """A loaded maps_to_maps translator: __call__((H, W, 5) stack) -> translated (H, W, 5) stack."""

    def __init__(self, model: ModelFile, engine: str = "auto", device: str = "auto"):
        manifest = model.manifest
        if manifest.get("kind") != "translator" or (manifest.get("translator") or {}).get("direction") != MAPS_TO_MAPS:
            raise ModelFileError(model.path, "is not a maps_to_maps translator (a material translator)")
        from .generate import pick_engine

        self.model = model
        self.cfg = maps_translator_config_from_manifest(manifest["architecture"])
        self.engine = pick_engine(engine, device)
        if self.engine == "torch":
            import torch

            from .devices import pick_device
            from .maps_translator_net import build_maps_translator

            self.device = pick_device(device)
            net = build_maps_translator(self.cfg)
            net.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in model.tensors.items()})
            self.net = net.to(self.device).eval()
        else:
            from .numpy_maps_translator import NumpyMapsTranslator

            self.net = NumpyMapsTranslator(self.cfg, model.tensors)

    @property
    def block(self) -> dict:
        return self.model.manifest["translator"]

    def check_size(self, h: int, w: int) -> None:
        m = self.cfg.multiple
        if h % m or w % m:
            raise GenerationError(f"Maps of {w}x{h} px cannot be translated exactly periodically: "
                                  f"both sides must be multiples of {m} px.")

    def __call__(self, stack: np.ndarray) -> np.ndarray:
        self.check_size(*stack.shape[:2])
        if self.engine == "torch":
            import torch

            with torch.no_grad():
                t = torch.from_numpy(np.ascontiguousarray(stack.transpose(2, 0, 1), np.float32))[None]
                return self.net(t.to(self.device))[0].permute(1, 2, 0).float().cpu().numpy()
        return self.net(stack)


def load_maps_translator(translator: str | Path, engine: str = "auto", device: str = "auto") -> MapsTranslator:
    from .library import resolve_maps_translator

    return MapsTranslator(read_model_file(resolve_maps_translator(str(translator))), engine, device)


def check_strength(strength: float) -> None:
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise GenerationError(f"Strength must be between 0 and 1, not {strength}.")


def maps_stack(maps: MapSet) -> np.ndarray:
    """A MapSet -> its (H, W, 5) stack in GENERATED_CHANNELS order; one line naming what is missing."""
    missing = [name for name, _ in GENERATED_CHANNELS if name not in maps]
    if missing:
        raise GenerationError(f"The maps to translate lack {', '.join(missing)}.")
    shapes = {maps[name].shape[:2] for name, _ in GENERATED_CHANNELS}
    if len(shapes) != 1:
        raise GenerationError(f"The maps to translate differ in size: {sorted(shapes)}.")
    return np.moveaxis(stack_channels(maps), 0, -1)


def transform_stack(net: MapsTranslator, stack: np.ndarray, strength: float = 1.0) -> np.ndarray:
    """(H, W, 5) stack -> translated stack, mixed with the input by `strength`."""
    check_strength(strength)
    stack = np.clip(np.asarray(stack, np.float32), 0.0, 1.0)
    if strength == 0:
        return stack
    return np.clip(blend(stack, net(stack), strength), 0.0, 1.0)


def transform_maps(maps: MapSet, translator: str | Path | MapsTranslator, strength: float = 1.0,
                   engine: str = "auto", device: str = "auto", normal_strength: float | None = None) -> MapSet:
    """Translate a material's maps; the normal is derived from the translated height (at
    `normal_strength`, default the strength recorded in the translator's manifest)."""
    check_strength(strength)
    net = translator if isinstance(translator, MapsTranslator) else load_maps_translator(translator, engine, device)
    out = transform_stack(net, maps_stack(maps), strength)
    relief = normal_strength if normal_strength is not None else float(net.block.get("normal_strength", 4.0))
    return complete_map_set(split_channels(np.moveaxis(out, -1, 0)), relief)


def transform(request: TransformRequest, maps: MapSet) -> MapSet:
    """The typed entry: a TransformRequest and the maps to translate -> the translated MapSet."""
    return transform_maps(maps, request.translator, request.strength, request.engine, request.device,
                          request.normal_strength)
