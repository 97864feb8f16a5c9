"""Material translation: a MapSet in, the same material translated (e.g. clean -> rusty metal) out.

A maps_to_maps translator (core.arch.material_translator) reads the albedo, height and roughness
together and writes them together, so the maps stay aligned; the normal is derived again from the
translated height. Engines: torch or numpy ("auto": torch when importable). One pass over the whole
image with wrap-around everywhere: a periodic input gives an exactly periodic output.

Detail step: a net trained for minutes on a CPU gets the target material's colours and layout right
but not its fine detail. A translator may carry its target's exemplar (real photo maps at the net's
scale); then the translation is only the guide of coordinate synthesis against that exemplar
(core.synthesis.refine, as the generator refines), and every map is read through the one field: real rust,
laid out like the translation, periodic and aligned. `strength` then mixes input and result.
The guide is the translation moved to the exemplar's mean and spread per channel (detail_guide):
the layout is the translation's, the colours the exemplar's (see docs/transform/README.md).
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator

import numpy as np

from ..core.arch.material_translator import blend, material_translator_config_from_manifest
from ..core.map_bands import QuantisedMaps, dequantise, quantise, quantise_stack
from ..core.maps import GENERATED_CHANNELS, MapSet, complete_map_set, split_channels
from ..core.modelfile import ModelFile, ModelFileError, check_role, read_manifest, read_model_file
from ..core.synthesis.exemplar_analysis import analyse
from ..core.synthesis.refine import plan, resize_periodic
from .library import bundled_translators, resolve_material_translator
from .nets.image_net import ImageNet
from .nets.numpy_material_translator import NumpyMaterialTranslator
from .progress import Progress
from .request import GenerationError
from .synthesis import BAND_ROWS, Field, field_rows, read_whole, synthesize_field
from .tiled import check_memory

MAPS_TO_MAPS = "maps_to_maps"
# The detail guide's spread is raised at most this much towards the exemplar's (a flat input stays
# flat-ish). Measured on clean -> rusty metal: the raw translation as the guide kept little of its own
# layout and picked the exemplar's odd patches (SWD ratio 3.6 on Metal055A); moved to the exemplar's
# mean and spread, 0.74, and the luminance of a 256-px material followed the translation at 0.87.
DETAIL_GAIN_CAP = 4.0
NET_TILE = 512  # output pixels per side of each tile the net runs on (about 0.35 GB of activations)
# A whole transform's peak memory (the material made, held as 16-bit with the net's 16-bit output
# while the net runs in tiles; the detail step's field a band at a time; the maps gathered as their
# PNGs' integers): about this per pixel plus a base. Measured at 8192 px: 2.90 GB, most of it the
# generation of the material (benchmarks/results/memory.txt).
TRANSFORM_BYTES_PER_PIXEL, TRANSFORM_BASE_BYTES = 48, 400 * 2 ** 20


@dataclass(frozen=True)
class TransformRequest:
    translator: str          # a bundled material translator's name, or a path to its .safetensors file
    strength: float = 1.0    # 0: the maps unchanged; 1: fully translated; between: a straight mix
    normal_strength: float | None = None  # relief of the re-derived normal (None: the translator's)
    engine: str = "auto"     # auto / torch / numpy
    device: str = "auto"     # torch engine: auto / cpu / cuda / mps
    detail: bool | None = None  # the detail step (needs the translator's exemplar); None: the translator's default
    seed: int = 0            # the detail step's synthesis seed


class MaterialTranslator:
    """A loaded maps_to_maps translator: __call__((H, W, 5) stack) -> translated (H, W, 5) stack."""

    def __init__(self, model: ModelFile, engine: str = "auto", device: str = "auto"):
        manifest = model.manifest
        check_role(manifest, model.path, (MAPS_TO_MAPS,))

        self.model = model
        cfg = self.cfg = material_translator_config_from_manifest(manifest["architecture"])
        self.net = ImageNet(model.tensors, engine, device, lambda: _torch_material_translator(cfg),
                            lambda tensors: NumpyMaterialTranslator(cfg, tensors))
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
                self._analysis = analyse(self.exemplar, periodic=bool(self.exemplar_block.get("periodic", False)))
            return self._analysis

    def check_size(self, h: int, w: int) -> None:
        m = self.cfg.multiple
        if h % m or w % m:
            raise GenerationError(f"Maps of {w}x{h} px cannot be translated exactly periodically: "
                                  f"both sides must be multiples of {m} px.")

    def __call__(self, stack: np.ndarray, tile: int = NET_TILE, out_dtype=np.float32) -> np.ndarray:
        """The net over the torus, in tiles of `tile` px read with a wrap-around margin of its full
        context: equal to one pass (tested), with activations for one tile at a time (one pass over
        an 8192 px material needed about 60 GB). A uint16 stack (core.map_bands) is read as [0, 1]
        and out_dtype uint16 stores the result so (an 8192 px result in 0.67 GB, not 1.3)."""
        self.check_size(*stack.shape[:2])
        m = self.cfg.multiple
        tile = max(m, tile // m * m)
        margin = -(-self.cfg.context // m) * m  # whole pooling cells, so every tile sees the same grid
        h, w = stack.shape[:2]
        if h <= tile + 2 * margin and w <= tile + 2 * margin:
            return _stored(self.net(_as_float(stack)), out_dtype)
        out = None
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                th, tw = min(tile, h - y0), min(tile, w - x0)
                rows = np.arange(y0 - margin, y0 + th + margin) % h
                cols = np.arange(x0 - margin, x0 + tw + margin) % w
                part = self.net(_as_float(stack[rows][:, cols]))
                if out is None:
                    out = np.empty((h, w, part.shape[2]), out_dtype)
                out[y0:y0 + th, x0:x0 + tw] = _stored(part[margin:margin + th, margin:margin + tw], out_dtype)
        return out


def _as_float(stack: np.ndarray) -> np.ndarray:
    return dequantise(stack) if stack.dtype == np.uint16 else np.asarray(stack, np.float32)


def _stored(part: np.ndarray, dtype) -> np.ndarray:
    return quantise(part, 16) if dtype == np.uint16 else part


def _torch_material_translator(cfg):
    from .nets.material_translator import build_material_translator

    return build_material_translator(cfg)


def load_material_translator(translator: str | Path, engine: str = "auto", device: str = "auto") -> MaterialTranslator:
    return MaterialTranslator(read_model_file(resolve_material_translator(str(translator)), (MAPS_TO_MAPS,)), engine, device)


def check_fits(size: int) -> None:
    """GenerationError (one line, before any work) when a size x size transform cannot fit in memory."""
    check_memory(TRANSFORM_BYTES_PER_PIXEL * size * size + TRANSFORM_BASE_BYTES,
                 f"A {size}x{size} transform", "choose a smaller --size")


def check_strength(strength: float) -> None:
    if not (isinstance(strength, (int, float)) and math.isfinite(strength) and 0.0 <= strength <= 1.0):
        raise GenerationError(f"Strength must be between 0 and 1, not {strength}.")


def maps_stack(maps: MapSet) -> np.ndarray:
    """A MapSet -> its (H, W, 5) float32 stack in GENERATED_CHANNELS order; one line naming what is missing."""
    maps_stack_shape(maps)
    return np.concatenate([np.asarray(maps[name], np.float32).reshape(maps[name].shape[:2] + (-1,))
                           for name, _ in GENERATED_CHANNELS], axis=-1)


def guide_affine(translated: np.ndarray, exemplar: np.ndarray, band: int = BAND_ROWS) -> tuple[np.ndarray, np.ndarray]:
    """The detail guide as an affine map per channel, guide = clip(offset + translated * gain):
    the translation's deviations from its own mean, scaled towards the exemplar's spread (at most
    DETAIL_GAIN_CAP times), around the exemplar's mean. A net trained for minutes gets colours and
    contrast roughly (an olive rust, a faint one); the layout is what the guide should carry, and
    the exemplar's own statistics what it is matched in. Moments gathered band by band (float64)."""
    total, squares = np.zeros(translated.shape[2]), np.zeros(translated.shape[2])
    for y0 in range(0, translated.shape[0], band):
        part = _as_float(translated[y0:y0 + band]).astype(np.float64)
        total += part.sum(axis=(0, 1))
        squares += np.square(part).sum(axis=(0, 1))
    count = translated.shape[0] * translated.shape[1]
    mean = total / count
    spread = np.sqrt(np.maximum(squares / count - mean * mean, 0.0))
    gain = np.minimum(exemplar.std(axis=(0, 1)) / np.maximum(spread, 1e-6), DETAIL_GAIN_CAP)
    return (exemplar.mean(axis=(0, 1)) - mean * gain).astype(np.float32), gain.astype(np.float32)


def detail_guide(translated: np.ndarray, exemplar: np.ndarray, factor: int = 1, band: int = BAND_ROWS) -> np.ndarray:
    """The translation (float or uint16) as the detail step's guide (guide_affine), box-averaged by
    `factor` on each side as synthesis reads it (core.synthesis.refine.guide_features): an 8192 px
    translation becomes a 256 px guide band by band, never a full-size float copy."""
    offset, gain = guide_affine(translated, exemplar, band)
    h, w = translated.shape[:2]
    step = max(factor, band // factor * factor)
    parts = []
    for y0 in range(0, h, step):
        part = np.clip(offset + _as_float(translated[y0:y0 + step]) * gain, 0.0, 1.0).astype(np.float32)
        parts.append(resize_periodic(part, part.shape[0] // factor, w // factor))
    return np.concatenate(parts)


def detail_field(net: MaterialTranslator, height: int, width: int, seed: int, guide: np.ndarray | None,
                 band: int = BAND_ROWS) -> Field:
    """Coordinate synthesis of a periodic height x width texture against the translator's exemplar
    (engine.synthesis), laid out by `guide` ((gh, gw, 5), the translation) or, without one, free
    (the re-synthesis yardstick); read it with field_rows."""
    if net.exemplar is None:
        raise GenerationError(f"Translator '{net.model.name}' carries no exemplar: it has no detail step.")
    return synthesize_field(net.exemplar, net.analysis, net.exemplar_block, height, width, seed, guide,
                            bool(net.exemplar_block.get("periodic", False)), net.device, band=band)


def exemplar_field(net: MaterialTranslator, height: int, width: int, seed: int,
                   guide: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """detail_field read whole -> ((H, W, 5) stack read through the field, (H, W, 2) int32
    exemplar coordinates of every pixel)."""
    return read_whole(detail_field(net, height, width, seed, guide))


def translated_bands(net: MaterialTranslator, source: np.ndarray, strength: float = 1.0, detail: bool | None = None,
                     seed: int = 0, band: int = BAND_ROWS) -> Iterator[tuple[int, np.ndarray, np.ndarray | None]]:
    """(H, W, 5) uint16 stack (core.map_bands) -> (y0, (n, W, 5) float32 rows of the translation
    mixed with the input by `strength`, the detail step's (n, W, 2) coordinates or None), band by
    band. The net's output is held as 16-bit; with the detail step only its small guide outlives
    the net. detail None: the translator's default; a translator without an exemplar skips it."""
    check_strength(strength)
    height, width = source.shape[:2]
    out, field = (None if strength == 0 else net(source, out_dtype=np.uint16)), None
    if out is not None and (net.detail_default if detail is None else detail) and net.exemplar is not None:
        guide = detail_guide(out, net.exemplar, 1 << plan(net.analysis, height, width).finest, band)
        out = None  # the 16-bit translation is no longer needed: the field reads the exemplar
        field = detail_field(net, height, width, seed, guide, band)
    for y0 in range(0, height, band):
        y1 = min(height, y0 + band)
        mine = dequantise(source[y0:y1])
        if field is not None:
            result, coords = field_rows(field, y0, y1)
        else:
            result, coords = (mine if out is None else dequantise(out[y0:y1])), None
        yield y0, np.clip(blend(mine, result, strength), 0.0, 1.0), coords


def transform_with_field(net: MaterialTranslator, stack: np.ndarray, strength: float = 1.0, detail: bool | None = None,
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """(H, W, 5) stack -> (translated stack mixed with the input by `strength`, the detail step's
    (H, W, 2) exemplar coordinates or None): translated_bands, gathered."""
    check_strength(strength)
    stack = np.clip(np.asarray(stack, np.float32), 0.0, 1.0)
    if strength == 0:
        return stack, None
    parts = list(translated_bands(net, quantise(stack, 16), strength, detail, seed))
    coords = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    return np.concatenate([p[1] for p in parts]), coords


def transform_stack(net: MaterialTranslator, stack: np.ndarray, strength: float = 1.0, detail: bool | None = None,
                    seed: int = 0) -> np.ndarray:
    """(H, W, 5) stack -> translated stack (with the detail step, see transform_with_field), mixed
    with the input by `strength`."""
    return transform_with_field(net, stack, strength, detail, seed)[0]


def _relief(net: MaterialTranslator, normal_strength: float | None) -> float:
    return normal_strength if normal_strength is not None else float(net.block.get("normal_strength", 4.0))


def transform_maps(maps: MapSet, translator: str | Path | MaterialTranslator, strength: float = 1.0,
                   engine: str = "auto", device: str = "auto", normal_strength: float | None = None,
                   detail: bool | None = None, seed: int = 0) -> MapSet:
    """Translate a material's maps; the normal is derived from the translated height (at
    `normal_strength`, default the strength recorded in the translator's manifest). detail: copy
    real detail from the translator's exemplar along the translation (None: the translator's
    default; skipped without an exemplar); seed: the detail step's synthesis seed."""
    check_strength(strength)
    net = translator if isinstance(translator, MaterialTranslator) else load_material_translator(translator, engine, device)
    out = transform_stack(net, maps_stack(maps), strength, detail, seed)
    return complete_map_set(split_channels(np.moveaxis(out, -1, 0)), _relief(net, normal_strength))


def transform_to_files(maps: dict, net: MaterialTranslator, strength: float = 1.0, normal_strength: float | None = None,
                       detail: bool | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    """transform_maps for large materials: the maps (taken out of `maps`, which ends empty) are held
    as 16-bit, translated in bands and gathered as the uint8 / uint16 maps the PNGs store
    (core.map_bands; core.png writes them as they are). An 8192 px material stays under 3 GB."""
    check_strength(strength)
    maps.pop("normal", None)
    height, width = maps_stack_shape(maps)
    source = quantise_stack(maps, consume=True)
    gathered = QuantisedMaps(height, width, _relief(net, normal_strength))
    for y0, band, _ in translated_bands(net, source, strength, detail, seed):
        gathered.put(y0, band)
    del source
    return gathered.finish()


def maps_stack_shape(maps: dict) -> tuple[int, int]:
    """The common (H, W) of the maps to translate; one line naming what is missing or differs."""
    missing = [name for name, _ in GENERATED_CHANNELS if name not in maps]
    if missing:
        raise GenerationError(f"The maps to translate lack {', '.join(missing)}.")
    shapes = {maps[name].shape[:2] for name, _ in GENERATED_CHANNELS}
    if len(shapes) != 1:
        raise GenerationError(f"The maps to translate differ in size: {sorted(shapes)}.")
    return shapes.pop()


def transform(request: TransformRequest, maps: MapSet) -> MapSet:
    """The typed entry: a TransformRequest and the maps to translate -> the translated MapSet."""
    return transform_maps(maps, request.translator, request.strength, request.engine, request.device,
                          request.normal_strength, request.detail, request.seed)


# ---------------------------------------------------------------- the add-on's Transform Material job

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
    def run(request: TransformJob, progress: Progress | None = None,
            should_stop: Callable[[], bool] | None = None):
        translator = load_material_translator(request.translator, engine=request.engine, device=request.device)
        out = transform_maps(maps, translator=translator, strength=request.strength)
        if progress is not None:
            progress(1.0)
        return out, {"name": request.name, "to": (translator.block.get("to") or request.translator)}
    return run
