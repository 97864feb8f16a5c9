"""Material translation: a MapSet in, the same material translated (e.g. clean -> rusty metal) out.

A maps_to_maps translator (core.maps_translator_arch) reads the albedo, height and roughness
together and writes them together, so the maps stay aligned; the normal is derived again from the
translated height. Engines: torch or numpy ("auto": torch when importable). One pass over the whole
image with wrap-around everywhere: a periodic input gives an exactly periodic output.

Detail step: a net trained for minutes on a CPU gets the target material's colours and layout right
but not its fine detail. A translator may carry its target's exemplar (real photo maps at the net's
scale); then the translation is only the guide of coordinate synthesis against that exemplar
(core.refine, as the generator refines), and every map is read through the one field: real rust,
laid out like the translation, periodic and aligned. `strength` then mixes input and result.
The guide is the translation moved to the exemplar's mean and spread per channel (detail_guide):
the layout is the translation's, the colours the exemplar's (see docs/transform/README.md).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..core.maps import GENERATED_CHANNELS, MapSet, complete_map_set, split_channels, stack_channels
from ..core.maps_translator_arch import blend, maps_translator_config_from_manifest
from ..core.modelfile import ModelFile, check_role, read_model_file
from .image_net import ImageNet
from .request import GenerationError

MAPS_TO_MAPS = "maps_to_maps"
# The detail guide's spread is raised at most this much towards the exemplar's (a flat input stays
# flat-ish). Measured on clean -> rusty metal: the raw translation as the guide kept little of its own
# layout and picked the exemplar's odd patches (SWD ratio 3.6 on Metal055A); moved to the exemplar's
# mean and spread, 0.74, and the luminance of a 256-px material followed the translation at 0.87.
DETAIL_GAIN_CAP = 4.0
NET_TILE = 512  # output pixels per side of each tile the net runs on (about 0.35 GB of activations)
# A whole transform's peak memory (the material made, the net in tiles, the detail step's coordinate
# synthesis, the maps written): about this per pixel plus a base (benchmarks/results/memory.txt:
# 1.44 GB at 2048 px on the CPU). The detail step and the generation dominate, not the net.
TRANSFORM_BYTES_PER_PIXEL, TRANSFORM_BASE_BYTES = 260, 400 * 2 ** 20


@dataclass(frozen=True)
class TransformRequest:
    translator: str          # a bundled maps translator's name, or a path to its .safetensors file
    strength: float = 1.0    # 0: the maps unchanged; 1: fully translated; between: a straight mix
    normal_strength: float | None = None  # relief of the re-derived normal (None: the translator's)
    engine: str = "auto"     # auto / torch / numpy
    device: str = "auto"     # torch engine: auto / cpu / cuda / mps
    detail: bool | None = None  # the detail step (needs the translator's exemplar); None: the translator's default
    seed: int = 0            # the detail step's synthesis seed


class MapsTranslator:
    """A loaded maps_to_maps translator: __call__((H, W, 5) stack) -> translated (H, W, 5) stack."""

    def __init__(self, model: ModelFile, engine: str = "auto", device: str = "auto"):
        manifest = model.manifest
        check_role(manifest, model.path, (MAPS_TO_MAPS,))
        from .numpy_maps_translator import NumpyMapsTranslator

        self.model = model
        cfg = self.cfg = maps_translator_config_from_manifest(manifest["architecture"])
        self.net = ImageNet(model.tensors, engine, device, lambda: _torch_maps_translator(cfg),
                            lambda tensors: NumpyMapsTranslator(cfg, tensors))
        self.engine, self.device = self.net.engine, self.net.device
        self.exemplar = model.exemplar               # (h, w, 5) target material at the net's scale, or None
        self._analysis = None
        self._analysis_lock = threading.Lock()

    @property
    def block(self) -> dict:
        return self.model.manifest["translator"]

    @property
    def exemplar_block(self) -> dict:
        return self.model.manifest.get("exemplar") or {}

    @property
    def detail_default(self) -> bool:
        """Whether the detail step runs when the caller does not say: only with an exemplar, and as
        the translator's card chose (translator block 'detail', default true)."""
        return self.exemplar is not None and bool(self.block.get("detail", True))

    @property
    def analysis(self):
        """The exemplar's analysis for the detail step, computed once per loaded translator."""
        with self._analysis_lock:
            if self._analysis is None:
                from ..core.refine import analyse
                self._analysis = analyse(self.exemplar, periodic=bool(self.exemplar_block.get("periodic", False)))
            return self._analysis

    def check_size(self, h: int, w: int) -> None:
        m = self.cfg.multiple
        if h % m or w % m:
            raise GenerationError(f"Maps of {w}x{h} px cannot be translated exactly periodically: "
                                  f"both sides must be multiples of {m} px.")

    def __call__(self, stack: np.ndarray, tile: int = NET_TILE) -> np.ndarray:
        """The net over the torus, in tiles of `tile` px read with a wrap-around margin of its full
        context: equal to one pass (tested), with activations for one tile at a time (one pass over
        an 8192 px material needed about 60 GB)."""
        self.check_size(*stack.shape[:2])
        m = self.cfg.multiple
        tile = max(m, tile // m * m)
        margin = -(-self.cfg.context // m) * m  # whole pooling cells, so every tile sees the same grid
        h, w = stack.shape[:2]
        if h <= tile + 2 * margin and w <= tile + 2 * margin:
            return self.net(stack)
        out = None
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                th, tw = min(tile, h - y0), min(tile, w - x0)
                rows = np.arange(y0 - margin, y0 + th + margin) % h
                cols = np.arange(x0 - margin, x0 + tw + margin) % w
                part = self.net(stack[rows][:, cols])
                if out is None:
                    out = np.empty((h, w, part.shape[2]), np.float32)
                out[y0:y0 + th, x0:x0 + tw] = part[margin:margin + th, margin:margin + tw]
        return out


def _torch_maps_translator(cfg):
    from .maps_translator_net import build_maps_translator

    return build_maps_translator(cfg)


def load_maps_translator(translator: str | Path, engine: str = "auto", device: str = "auto") -> MapsTranslator:
    from .library import resolve_maps_translator

    return MapsTranslator(read_model_file(resolve_maps_translator(str(translator)), (MAPS_TO_MAPS,)), engine, device)


def check_fits(size: int) -> None:
    """GenerationError (one line, before any work) when a size x size transform cannot fit in memory."""
    from .tiled import check_memory

    check_memory(TRANSFORM_BYTES_PER_PIXEL * size * size + TRANSFORM_BASE_BYTES,
                 f"A {size}x{size} transform", "choose a smaller --size")


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


def detail_guide(translated: np.ndarray, exemplar: np.ndarray) -> np.ndarray:
    """The translation as the detail step's guide: per channel its deviations from its own mean,
    scaled towards the exemplar's spread (at most DETAIL_GAIN_CAP times), around the exemplar's mean.
    A net trained for minutes gets colours and contrast roughly (an olive rust, a faint one); the
    layout is what the guide should carry, and the exemplar's own statistics what it is matched in."""
    mean, spread = translated.mean(axis=(0, 1)), translated.std(axis=(0, 1))
    gain = np.minimum(exemplar.std(axis=(0, 1)) / np.maximum(spread, 1e-6), DETAIL_GAIN_CAP)
    return np.clip(exemplar.mean(axis=(0, 1)) + (translated - mean) * gain, 0.0, 1.0).astype(np.float32)


def exemplar_field(net: MapsTranslator, height: int, width: int, seed: int,
                   guide: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Coordinate synthesis of a periodic height x width texture against the translator's exemplar,
    laid out by `guide` ((gh, gw, 5), the translation) or, without one, free (the re-synthesis
    yardstick). As engine.generate.exemplar_synthesis, for any rectangle. -> ((H, W, 5) stack read
    through the field, (H, W, 2) int32 exemplar coordinates of every pixel)."""
    from ..core.latent import grid_offset
    from ..core.refine import apply_field, synthesize
    from .generate import FIELD_ROLL, PRESERVE_CONTRAST, REFINE_SOFTEN

    if net.exemplar is None:
        raise GenerationError(f"Translator '{net.model.name}' carries no exemplar: it has no detail step.")
    if net.device is not None and net.device.type != "cpu":  # the same field, on the GPU
        from .refine_torch import synthesize_torch
        coords = synthesize_torch(net.analysis, height, width, seed, guide=guide, device=net.device)
    else:
        coords = synthesize(net.analysis, height, width, seed, guide=guide)
    periodic = bool(net.exemplar_block.get("periodic", False))
    lattice = net.exemplar_block.get("lattice") or [0, 0]
    if any(lattice):  # a regular material: keep every patch on the tile lattice
        from ..core.lattice import snap_to_lattice
        coords = snap_to_lattice(coords, tuple(lattice), net.exemplar.shape[:2], periodic)
    coords = np.roll(coords, grid_offset(seed, min(FIELD_ROLL, height, width)), axis=(0, 1))
    stack = apply_field(net.exemplar, coords, soften=REFINE_SOFTEN, periodic=periodic, preserve=PRESERVE_CONTRAST)
    return np.clip(stack, 0.0, 1.0), coords


def transform_with_field(net: MapsTranslator, stack: np.ndarray, strength: float = 1.0, detail: bool | None = None,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 5) stack -> (translated stack mixed with the input by `strength`, the detail step's
    (H, W, 2) exemplar coordinates or None). detail None: the translator's default; a translator
    without an exemplar skips the step."""
    check_strength(strength)
    stack = np.clip(np.asarray(stack, np.float32), 0.0, 1.0)
    if strength == 0:
        return stack, None
    out, coords = net(stack), None
    if (net.detail_default if detail is None else detail) and net.exemplar is not None:
        out, coords = exemplar_field(net, stack.shape[0], stack.shape[1], seed, detail_guide(out, net.exemplar))
    return np.clip(blend(stack, out, strength), 0.0, 1.0), coords


def transform_stack(net: MapsTranslator, stack: np.ndarray, strength: float = 1.0, detail: bool | None = None,
                    seed: int = 0) -> np.ndarray:
    """(H, W, 5) stack -> translated stack (with the detail step, see transform_with_field), mixed
    with the input by `strength`."""
    return transform_with_field(net, stack, strength, detail, seed)[0]


def transform_maps(maps: MapSet, translator: str | Path | MapsTranslator, strength: float = 1.0,
                   engine: str = "auto", device: str = "auto", normal_strength: float | None = None,
                   detail: bool | None = None, seed: int = 0) -> MapSet:
    """Translate a material's maps; the normal is derived from the translated height (at
    `normal_strength`, default the strength recorded in the translator's manifest). detail: copy
    real detail from the translator's exemplar along the translation (None: the translator's
    default; skipped without an exemplar); seed: the detail step's synthesis seed."""
    check_strength(strength)
    net = translator if isinstance(translator, MapsTranslator) else load_maps_translator(translator, engine, device)
    out = transform_stack(net, maps_stack(maps), strength, detail, seed)
    relief = normal_strength if normal_strength is not None else float(net.block.get("normal_strength", 4.0))
    return complete_map_set(split_channels(np.moveaxis(out, -1, 0)), relief)


def transform(request: TransformRequest, maps: MapSet) -> MapSet:
    """The typed entry: a TransformRequest and the maps to translate -> the translated MapSet."""
    return transform_maps(maps, request.translator, request.strength, request.engine, request.device,
                          request.normal_strength, request.detail, request.seed)
