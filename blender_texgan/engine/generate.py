"""Generation: a typed request in, a MapSet out. Shared by the add-on and the terminal entry.

Engines: "torch" (CUDA, MPS or CPU) and "numpy" (zero-install CPU: numpy ships with Blender);
"auto" takes torch when it can be imported, numpy otherwise. Large outputs run tile by tile with
exact periodicity, which also gives progress reports and cancel points.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Callable

import numpy as np

from ..core.arch.vae import DECODER_PREFIX, ENCODER_PREFIX, decoder_config, part, vae_config_from_manifest
from ..core.latent import LatentLayout, grid_offset, seed_latent
from ..core.maps import GENERATED_CHANNELS, PBR_MAPS, complete_map_set, split_channels
from ..core.modelfile import MAKES_MATERIALS, ModelFile, ModelFileError, check_role, read_model_file
from ..core.normals import normal_from_height
from ..core.synthesis import exemplar_analysis, quilt, tiling_blend
from ..core.synthesis.band_match import exemplar_bands, match_bands
from ..core.synthesis.poisson import poisson_join
from ..core.synthesis.quilt import synthesize
from ..core.synthesis.read_field import apply_field, exemplar_stats
from ..core.synthesis.refine import GUIDE_WEIGHT
from ..core.synthesis.threads import THREADS, in_bands, one_worker
from .devices import pick_device
from .external import run_external
from .library import DEFAULT_MODEL, MODELS_DIR, bundled_models, default_model_name, resolve_model  # noqa: F401
from .nets.numpy_generator import NumpyEncoder, NumpyGenerator
from .progress import cancel_point, stage_progress
from .request import (  # noqa: F401
    ENGINES,
    MAX_RESOLUTION,
    MAX_SEED,
    MIN_RESOLUTION,
    MODES,
    EngineUnavailable,
    GenerationCancelled,
    GenerationError,
    GenerationRequest,
    check_engine,
    check_seed,
)
from .synthesis import FIELD_HALO, FIELD_ROLL, PRESERVE_CONTRAST, REFINE_SOFTEN, read_whole, synthesize_field  # noqa: F401
from .tiled import Cancelled, receptive_halo, run_tiled

# On the CPU a tile's widest full-resolution tensor (the last block's upsampled input, or its
# output) may take this many bytes. Small enough that glibc serves the buffers from its heap
# instead of fresh page-faulted mmaps (measured at 2048x2048 with the bundled models: 16 MB tiles
# 1.8 s, 128 MB tiles 2.5 s, in spite of 2.5x the halo recomputation; see tiled.receptive_halo).
CPU_TILE_BYTES = 16 << 20


def torch_available() -> bool:
    """Whether torch can be imported: found, not imported (importing it takes 1-2 s, which the
    exemplar-only modes of every bundled model never need)."""
    import importlib.util

    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):
        return False


GPU_DEVICES = ("cuda", "mps")


def pick_engine(name: str, device: str = "auto") -> str:
    """The engine that serves a request; a GPU device that cannot be had is an error, never a
    silent run on the CPU."""
    check_engine(name)
    if name == "external":  # served by engine.external, never picked here
        raise GenerationError("The external engine runs in its own process; this Python picks torch or numpy.")
    if device in GPU_DEVICES:
        if name == "numpy":
            raise EngineUnavailable(f"The numpy engine runs on the CPU only; the {device} device needs "
                                    "the torch engine.")
        if not torch_available():
            raise EngineUnavailable(f"The {device} device needs PyTorch, which this Python cannot import; "
                                    "install torch with GPU support or choose the CPU.")
    if name == "auto":
        return "torch" if torch_available() else "numpy"
    if name == "torch" and not torch_available():
        raise EngineUnavailable("The torch engine needs PyTorch, which this Python cannot import; "
                                "use the numpy engine or install torch.")
    return name


class Runner:
    """A loaded model ready to run: forward((C, h, w) latent) -> (out, h*scale, w*scale)."""

    def __init__(self, model: ModelFile, engine: str, device: str):
        self.model = model
        self.cfg = decoder_config(model.manifest)  # a VAE generates through its decoder
        self.layout = LatentLayout.from_dict(model.manifest["latent"])
        self.is_vae = model.manifest["kind"] == "vae"
        weights = part(model.tensors, DECODER_PREFIX) if self.is_vae else model.tensors
        self._encoder = None
        self.engine = engine
        self._weights, self._device_name = weights, device
        self._net = self._device = None
        self.exemplar = model.exemplar
        self.exemplar_block = model.manifest.get("exemplar") or {}
        self.exemplar_periodic = bool(self.exemplar_block.get("periodic", False))  # does it tile itself?
        self._made: dict[str, object] = {}   # the exemplar's analyses, each made once (see _once)
        self._locks: dict[str, threading.Lock] = {}   # one per analysis, made at its first use
        self._net_lock = threading.Lock()
        if engine == "torch" and device in GPU_DEVICES:  # a GPU asked for and not to be had: say so now
            _ = self.device

    @property
    def device(self):
        """The torch device (None on the numpy engine), found when first needed: the exemplar-only
        modes of every bundled model never import torch (1-2 s of a first generation's time)."""
        if self.engine != "torch":
            return None
        with self._net_lock:
            if self._device is None:
                try:
                    self._device = pick_device(self._device_name)
                except (ValueError, RuntimeError) as exc:
                    raise GenerationError(str(exc)) from None
            return self._device

    @property
    def net(self):
        """The generator network (torch module or numpy twin), built on first use."""
        device = self.device
        with self._net_lock:
            if self._net is None and self.engine == "numpy":
                self._net = NumpyGenerator(self.cfg, self._weights)
            elif self._net is None:
                import torch

                from .nets.generator import build_generator
                net = build_generator(self.cfg)
                net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in self._weights.items()})
                # channels_last: oneDNN's and cuDNN's faster layout for these narrow convs (1.2-1.3x on a CPU).
                self._net = net.eval().to(device, memory_format=torch.channels_last)
            return self._net

    def forward(self, z):
        if self.engine == "numpy":
            return self.net(z)
        import torch
        net = self.net
        with torch.inference_mode():
            x = torch.from_numpy(z[None]).to(self.device).contiguous(memory_format=torch.channels_last)
            return net(x)[0].float().cpu().numpy()

    def encode(self, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """A VAE's encoder: (5, H, W) maps, sides multiples of the scale -> mean, log-variance,
        each (latent channels, H / scale, W / scale)."""
        if not self.is_vae:
            raise GenerationError(f"Model '{self.model.name}' is a {self.model.manifest['kind']}: only VAE models "
                                  "encode textures.")
        cfg = vae_config_from_manifest(self.model.manifest["architecture"])
        if self.engine == "numpy":
            if self._encoder is None:
                self._encoder = NumpyEncoder(cfg, self.model.tensors)
            return self._encoder(maps)
        import torch
        if self._encoder is None:
            from .nets.vae_encoder import PeriodicEncoder
            encoder = PeriodicEncoder(cfg)
            encoder.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in part(self.model.tensors, ENCODER_PREFIX).items()})
            self._encoder = encoder.eval().to(self.device)
        with torch.inference_mode():
            mean, logvar = self._encoder(torch.from_numpy(np.ascontiguousarray(maps[None], np.float32)).to(self.device))
        return mean[0].float().cpu().numpy(), logvar[0].float().cpu().numpy()

    def _once(self, name: str, make):
        """The analysis `name` of the exemplar, made by make() at its first use. Each has its own lock, so
        two can be made side by side in threads (a first joined generation makes the maps' source and
        the height's bands beside the joins' analysis)."""
        with self._locks.setdefault(name, threading.Lock()):   # setdefault is atomic: one lock per name
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]

    @property
    def analysis(self):
        """The exemplar's analysis for refinement, computed once per loaded model."""
        return self._once("refine", lambda: exemplar_analysis.analyse(self.exemplar, periodic=self.exemplar_periodic))

    @property
    def quilt_analysis(self):
        """The exemplar's analysis for joined patches (core.synthesis.quilt): cheap, and the element size and
        repeats come from the model file when its export measured them."""
        block = self.exemplar_block
        return self._once("quilt", lambda: quilt.analyse(
            self.exemplar, self.exemplar_periodic, periods=block.get("lattice") if "element" in block else None,
            element=block.get("element")))

    @property
    def map_source(self) -> tuple[np.ndarray, tuple]:
        """The exemplar's channels but the height, contiguous, and their core.synthesis.read_field.exemplar_stats:
        what read_maps reads the other maps from (made once per loaded model, not per generation)."""
        return self._once("map_source", lambda: map_source(self.exemplar))

    @property
    def height_bands(self):
        """The exemplar height's band distributions (core.synthesis.band_match), made once per loaded model."""
        return self._once("height_bands", lambda: exemplar_bands(self.exemplar[..., HEIGHT_CHANNEL]))

    @property
    def blend_analysis(self):
        """The exemplar's tiling-and-blending tables (core.synthesis.tiling_blend), computed once per model."""
        return self._once("blend", lambda: tiling_blend.analyse(self.exemplar))

    def tile_cells(self) -> int:
        """Tile side in latent cells: fixed on the CPU; sized to free memory on a GPU."""
        widest_full_res = max(self.cfg.channels[-2:] + (self.cfg.out_channels,))
        cells = max(1, int((CPU_TILE_BYTES / (4 * widest_full_res)) ** 0.5) // self.cfg.scale)
        if self.device is not None and self.device.type == "cuda":
            import torch
            free, _ = torch.cuda.mem_get_info(self.device)
            # Peak activations per output pixel: about 4 tensors of the widest full-res layer.
            per_pixel = 4 * 4 * widest_full_res * 2
            side = int((0.5 * free / per_pixel) ** 0.5)
            cells = max(cells, side // self.cfg.scale)
        return cells


_cache_lock = threading.Lock()
_cache: dict[tuple, Runner] = {}


def load_runner(path: Path, engine: str, device: str = "auto", roles: tuple[str, ...] = MAKES_MATERIALS,
                needed: str = "") -> Runner:
    """Model file -> Runner (cached by path, mtime, size, engine and device; one model resident).
    A file not of `roles` is refused in one line saying what it is (core.modelfile.check_role)."""
    stat = path.stat() if path.exists() else None
    key = (str(path.resolve()), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0, engine, device)
    with _cache_lock:
        cached = _cache.get(key)
    if cached is not None:
        check_role(cached.model.manifest, path, roles, needed)
        return cached
    runner = Runner(read_model_file(path, roles, needed), engine, device)
    with _cache_lock:
        _cache.clear()
        _cache[key] = runner
    return runner


# ---------------------------------------------------------------- generation

def check_resolution(resolution: int, scale: int) -> None:
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise GenerationError(f"Resolution must be between {MIN_RESOLUTION} and {MAX_RESOLUTION} pixels.")
    if resolution % scale:
        raise GenerationError(f"Resolution must be a multiple of {scale} for this model "
                              f"(for example {resolution // scale * scale or scale}).")


def pick_mode(mode: str, runner: Runner) -> str:
    if mode not in MODES:
        raise GenerationError(f"Mode must be one of {', '.join(MODES)}, not '{mode}'.")
    if runner.exemplar is None:
        if mode in ("refined", "random", "blend"):
            raise GenerationError(f"Model '{runner.model.name}' carries no exemplar: it generates in neural mode only.")
        return "neural"
    if mode == "auto":  # the model's own choice, made when it was measured at export
        return runner.exemplar_block.get("default_mode", "refined")
    if mode in ("neural", "refined") and runner.model.manifest.get("network") == "none":  # engine.photo.save_as_model
        raise GenerationError(f"Model '{runner.model.name}' was made from a photo and has no trained network: "
                              "choose Exemplar Only or Tiling and Blending.")
    return mode


def generate(request: GenerationRequest, progress: Callable[[float], None] | None = None,
             should_stop: Callable[[], bool] | None = None) -> tuple[dict, dict]:
    """Run a request: (MapSet, manifest). Raises ModelFileError or GenerationError, one line each.

    `progress(fraction)` is called as the work advances; `should_stop()` is polled between steps
    and makes this raise GenerationCancelled.
    """
    if request.engine == "external":
        return run_external(request.python, request, progress, should_stop)
    maps, manifest, _ = generate_with_field(request, progress, should_stop, keep_field=False)
    return maps, manifest


def generate_with_field(request: GenerationRequest, progress: Callable[[float], None] | None = None,
                        should_stop: Callable[[], bool] | None = None, keep_field: bool = True):
    """(MapSet, manifest, coordinate field or None): generate() plus, for refined and random modes,
    the (H, W, 2) exemplar coordinates of every pixel (to measure what was copied verbatim).
    keep_field=False: joined patches let go of the field once the maps are read (an 8192 px field
    is 0.5 GB; generate() needs only the maps) and give None."""
    check_seed(request.seed)
    path = resolve_model(request.model)
    runner = load_runner(path, pick_engine(request.engine, request.device), request.device)
    check_resolution(request.resolution, runner.cfg.scale)
    mode = pick_mode(request.mode, runner)
    report = progress or (lambda f: None)
    try:
        if mode == "neural":
            raw = neural_maps(runner, request.resolution, request.seed, lambda f: report(0.9 * f), should_stop)
            maps = complete_map_set(split_channels(raw), runner.model.manifest["normal_strength"])
            coords = None
        elif mode == "blend":
            maps, coords = blended_maps(runner, request.resolution, request.seed, report, should_stop), None
        elif mode == "random":
            maps, coords = quilted_maps(runner, request.resolution, request.seed, report, should_stop, keep_field)
        else:
            maps, coords = refined_maps(runner, request.resolution, request.seed, mode, report, should_stop)
    except Cancelled:
        raise GenerationCancelled() from None
    report(1.0)
    return maps, runner.model.manifest, coords


def neural_maps(runner: Runner, resolution: int, seed: int, progress, should_stop):
    """The net alone at `resolution`: (C, H, W), tiled with exact wrap-around."""
    z = seed_latent(runner.layout, seed, resolution)[0]
    return run_tiled(runner.forward, z, runner.cfg.scale, runner.tile_cells(), receptive_halo(runner.cfg),
                     progress, should_stop, offset=grid_offset(seed, runner.cfg.scale))


def blended_maps(runner: Runner, resolution: int, seed: int, progress=None, should_stop=None) -> dict:
    """Tiling and blending of the exemplar (Heitz & Neyret 2018, periodic): the training-free
    yardstick, offered as a mode because it wins on some stochastic materials. Reports progress and
    stops (GenerationCancelled) between its bands of rows. Each band goes straight into the maps
    (no full stack of the five channels), normals band by band in threads."""
    maps = {name: np.empty((resolution, resolution, count), np.float32) for name, count in GENERATED_CHANNELS}
    tiling_blend.synthesize(runner.blend_analysis, resolution, resolution, seed,
                            progress=stage_progress(progress, should_stop, 0.0, 0.9),
                            write=lambda y0, y1, band: split_band(band, maps, y0))
    cancel_point(should_stop)
    maps["normal"] = banded_normals(maps["height"][..., 0], float(runner.exemplar_block["normal_strength"]))
    return {spec.name: maps[spec.name] for spec in PBR_MAPS}


def quilted_maps(runner: Runner, resolution: int, seed: int, progress=None,
                 should_stop=None, keep_field: bool = True) -> tuple[dict, np.ndarray | None]:
    """Patches of the exemplar as big as its elements, joined along its joints (core.synthesis.quilt; courses
    and tile grids kept by the synthesis); the height joined in the gradient domain, so the normal map
    shows no patch outline. (MapSet, coords).

    Each step runs band by band in threads (core.synthesis.threads.in_bands): the other maps are read through
    the field, and the normals made, straight into the MapSet's arrays, so an 8192 px set never
    holds a second copy of its maps. The joined height's coarse bands are then given the exemplar's
    distributions (core.synthesis.band_match): the Poisson join widens them. Reports progress and stops
    (GenerationCancelled) between the steps and within the synthesis. keep_field=False: the field is
    let go of once the maps are read, and None is returned for it."""
    stage = lambda start, span: stage_progress(progress, should_stop, start, span)   # noqa: E731
    exemplar, periodic = runner.exemplar, runner.exemplar_periodic
    with one_worker() as worker:   # a first generation makes the exemplar's other analyses beside the joins'
        worker.submit(lambda: (runner.map_source, runner.height_bands))   # (an error is raised where they are used)
        coords = synthesize(runner.quilt_analysis, resolution, resolution, seed, progress=stage(0.0, 0.55))
        height = poisson_join(exemplar[..., HEIGHT_CHANNEL], coords, periodic)
    stage(0.55, 0.12)(1.0)
    height = match_bands(height, runner.height_bands, overwrite=True)[..., None]
    stage(0.67, 0.05)(1.0)
    maps = read_maps(exemplar, coords, periodic, runner.map_source)
    if not keep_field:
        coords = None   # before the normals: at 8192 px the set's peak memory is there
    stage(0.72, 0.2)(1.0)
    maps["height"] = height
    maps["normal"] = banded_normals(height[..., 0], float(runner.exemplar_block["normal_strength"]))
    return {spec.name: maps[spec.name] for spec in PBR_MAPS}, coords


SPLIT_PIXELS = 1 << 17   # an image this small or smaller is read in one band (threads would cost more than they save)


def band_rows(rows: int, width: int, pixels: int) -> int:
    """Rows of a band: at most about `pixels` pixels, and at least one band per thread (a 1024 px
    set is read in two bands on two cores); a small image is one band."""
    if rows * width <= SPLIT_PIXELS:
        return rows
    return max(8, min(pixels // max(1, width), -(-rows // THREADS)))


_CHANNEL_NAMES = [name for name, count in GENERATED_CHANNELS for _ in range(count)]
_NOT_HEIGHT = [c for c, name in enumerate(_CHANNEL_NAMES) if name != "height"]


def map_source(exemplar: np.ndarray) -> tuple[np.ndarray, tuple]:
    """(the exemplar's channels but the height, contiguous; their exemplar_stats): read_maps' source."""
    source = np.ascontiguousarray(exemplar[..., _NOT_HEIGHT])
    return source, exemplar_stats(source)


def read_maps(exemplar: np.ndarray, coords: np.ndarray, periodic: bool, source: tuple | None = None) -> dict:
    """Every map but the height read through the field (core.synthesis.read_field.apply_field, the joins' plain-mean
    blend), band by band: each band with BAND_HALO rows either side (its blend reads that far), its
    middle clipped to [0, 1] into the map. Equal to reading the whole field at once. `source`: the
    exemplar's map_source, when the caller keeps it (a loaded model's Runner does)."""
    source, stats = map_source(exemplar) if source is None else source
    rows, width = coords.shape[:2]
    maps = {name: np.empty((rows, width, count), np.float32) for name, count in GENERATED_CHANNELS if name != "height"}

    def band(r0: int, r1: int) -> None:
        at = np.arange(r0 - BAND_HALO, r1 + BAND_HALO) % rows
        read = apply_field(source, coords.take(at, axis=0), soften=REFINE_SOFTEN, periodic=periodic,
                           preserve=JOIN_CONTRAST[_NOT_HEIGHT], stats=stats)[BAND_HALO:BAND_HALO + r1 - r0]
        np.clip(read, 0.0, 1.0, out=read)   # along contiguous memory: 4x faster than clipping each map's slice
        start = 0
        for out in maps.values():
            count = out.shape[-1]
            out[r0:r1] = read[..., start:start + count]
            start += count

    in_bands(rows, band_rows(rows, width, FIELD_PIXELS), band)
    return maps


def banded_normals(height: np.ndarray, strength: float) -> np.ndarray:
    """core.normals.normal_from_height of an (H, W) height, band by band in threads (one row of halo
    either side), clipped to [0, 1] as a MapSet holds it."""
    rows, width = height.shape
    out = np.empty((rows, width, 3), np.float32)

    def band(r0: int, r1: int) -> None:
        normal = normal_from_height(height.take(np.arange(r0 - 1, r1 + 1) % rows, axis=0), strength)
        np.clip(normal[1:-1], 0.0, 1.0, out=out[r0:r1])

    in_bands(rows, band_rows(rows, width, NORMAL_PIXELS), band)
    return out


def split_band(band: np.ndarray, maps: dict, y0: int) -> None:
    """A band of rows (n, W, 5) in the exemplar's channels into the MapSet's arrays from row y0, clipped
    to [0, 1]."""
    start = 0
    for name, count in GENERATED_CHANNELS:
        np.clip(band[..., start:start + count], 0.0, 1.0, out=maps[name][y0:y0 + len(band)])
        start += count


def refined_maps(runner: Runner, resolution: int, seed: int, mode: str, progress, should_stop):
    """The net's layout at the guide scale, then coordinate synthesis against the exemplar, then
    every map read through that one field. Returns (MapSet, coords)."""
    block = runner.exemplar_block
    guide = None
    if mode == "refined":
        scale = runner.cfg.scale
        side = max(2 * scale, -(-resolution // int(block.get("guide_scale", 1)) // scale) * scale)
        guide = np.moveaxis(neural_maps(runner, side, seed, lambda f: progress(0.3 * f), should_stop), 0, -1)
    analysis = runner.analysis
    if should_stop and should_stop():
        raise Cancelled()
    progress(0.4)
    return exemplar_synthesis(runner.exemplar, analysis, block, resolution, seed, guide, runner.exemplar_periodic,
                              runner.device, should_stop)


def exemplar_synthesis(exemplar: np.ndarray, analysis, block: dict, resolution: int, seed: int,
                       guide: np.ndarray | None, periodic: bool, device=None, should_stop=None,
                       guide_weight: float = GUIDE_WEIGHT):
    """Coordinate synthesis of a resolution x resolution texture against an (h, w, 5) exemplar
    (engine.synthesis), laid out by an (gh, gw, 5) guide when one is given, then every map read
    through that one field. `block` is the exemplar's manifest block (lattice, normal_strength).
    Returns (MapSet, coords)."""
    field = synthesize_field(exemplar, analysis, block, resolution, resolution, seed, guide, periodic, device,
                             should_stop, guide_weight)
    stack, coords = read_whole(field)
    strength = float(block["normal_strength"])
    return complete_map_set(split_channels(np.moveaxis(stack, -1, 0)), strength), coords


# Joined patches meet in joints: there a plain mean over the blend band hides the cut best (cut
# visibility on stone_wall 0.83 vs 1.13 with the contrast-preserving blend, no difference by eye at
# 1:1), and no straight border runs through textured faces that a plain mean would wash out.
JOIN_CONTRAST = np.zeros(len(PRESERVE_CONTRAST), bool)
HEIGHT_CHANNEL = [name for name, count in GENERATED_CHANNELS for _ in range(count)].index("height")
# Joined maps are read through the field about this many pixels a band: each apply_field call also
# takes the exemplar's mean, minimum and maximum (about 0.1 s for stone_wall), so bands are few; at
# 8192 px two bands side by side hold about 0.8 GB. Normals need no such setup: smaller bands.
FIELD_PIXELS = 1 << 22
NORMAL_PIXELS = 1 << 20
BAND_HALO = FIELD_HALO + 1  # rows a band reads beyond its own (the blend's reach, one spare)


__all__ = ["GenerationRequest", "GenerationError", "GenerationCancelled", "EngineUnavailable",
           "ModelFileError", "generate", "generate_with_field", "MODES", "bundled_models", "resolve_model", "ModelFile", "ENGINES"]
