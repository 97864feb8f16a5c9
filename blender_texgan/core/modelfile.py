"""The model-file format: a standard .safetensors file whose header metadata holds our manifest.

Reading parses the header as JSON and the tensors as raw little-endian arrays; nothing in the file
is ever executed. Every way a file can be malformed raises ModelFileError with one line naming the
file and the problem.
"""
from __future__ import annotations

import json
import math
import os
import re
import struct
import unicodedata
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .arch.generator import config_from_manifest, param_shapes
from .arch.material_translator import material_translator_config_from_manifest, material_translator_param_shapes
from .arch.photo_translator import translator_config_from_manifest, unet_param_shapes
from .arch.vae import decoder_config, vae_config_from_manifest, vae_param_shapes
from .latent import LatentLayout
from .maps import MAP_BY_NAME

FORMAT_VERSION = 1
MANIFEST_KEY = "texgan_manifest"
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_FILE_BYTES = 2 * 1024 ** 3
KINDS = ("generator", "translator", "vae")
# photo_to_maps: a photo -> PBR maps (core.arch.photo_translator); maps_to_maps: one material's maps -> another's
# (material translation, e.g. clean -> rusty metal; core.arch.material_translator).
TRANSLATOR_DIRECTIONS = ("photo_to_maps", "maps_to_maps")

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2"), "U8": np.dtype("u1"), "U16": np.dtype("<u2")}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}

# The exemplar a model may carry: aligned maps at the scale the net works at, one coordinate system.
# Stored as integers (8-bit colour and roughness, 16-bit height) under these tensor names.
EXEMPLAR_PREFIX = "exemplar."
EXEMPLAR_MAPS = (("albedo", 3, "U8"), ("height", 1, "U16"), ("roughness", 1, "U8"))
EXEMPLAR_MIN_SIDE, EXEMPLAR_MAX_SIDE = 32, 2048
# How the exemplar's integer maps sit in the file, named by the exemplar block's "encoding" (absent:
# "raw"). "deflate_delta": each map's rows stored as differences from the pixel to their left (modulo
# 256 or 65536) and deflated (zlib): one 1-D U8 tensor per map, lossless, about 0.6 of the raw size
# for the bundled photos. Unpacking is bounded by the size the block declares (no zip bombs).
EXEMPLAR_ENCODINGS = ("raw", "deflate_delta")

# Everything in a model file is hostile: files are downloaded and shared. The bundled manifests
# nest 4 levels and their longest text is a few hundred characters; these limits leave room.
MAX_NESTING = 32            # [ and { levels, in the header and in the manifest
MAX_NAME_CHARS = 100        # a model name is shown in panels and starts file names
MAX_TEXT_CHARS = 20_000     # any other string of the manifest
MAX_INT = 2 ** 53           # beyond this an integer is no count of anything and floats lose it
FREE_TEXT_KEYS = ("description", "review")  # top-level prose: the only strings that may hold \n and \t
NORMAL_STRENGTH_RANGE = (1e-3, 1e3)  # relief in pixels per unit height; bundled: 0.7 to 44


class ModelFileError(ValueError):
    """A model file that cannot be used; str() is one line for the user."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"Model file '{self.path.name}' {problem}")


@dataclass
class ModelFile:
    path: Path
    manifest: dict
    tensors: dict[str, np.ndarray]          # network weights, float32
    exemplar: np.ndarray | None = None      # (h, w, 5) float32 in [0, 1], GENERATED_CHANNELS order

    @property
    def name(self) -> str:
        return self.manifest["name"]


# ---------------------------------------------------------------- writing

def encode_exemplar(exemplar: np.ndarray, encoding: str = "raw") -> dict[str, np.ndarray]:
    """(h, w, 5) float stack in [0, 1] -> the integer tensors a model file stores (EXEMPLAR_ENCODINGS)."""
    if exemplar.ndim != 3 or exemplar.shape[2] != sum(c for _, c, _ in EXEMPLAR_MAPS):
        raise ValueError(f"an exemplar is an (h, w, 5) stack, not {exemplar.shape}")
    out, start = {}, 0
    for name, channels, dtype in EXEMPLAR_MAPS:
        top = 255 if dtype == "U8" else 65535
        part = np.clip(exemplar[..., start:start + channels], 0.0, 1.0) * top
        ints = np.rint(part).astype(_DTYPES[dtype])
        out[EXEMPLAR_PREFIX + name] = pack_exemplar_map(ints) if encoding == "deflate_delta" else ints
        start += channels
    return out


def pack_exemplar_map(ints: np.ndarray) -> np.ndarray:
    """An (h, w, c) integer map -> its "deflate_delta" bytes (a 1-D uint8 array)."""
    ints = ints.astype(ints.dtype.newbyteorder("<"), copy=False)
    delta = np.diff(ints, axis=1, prepend=np.zeros_like(ints[:, :1]))  # wraps: modulo 2^bits
    return np.frombuffer(zlib.compress(delta.tobytes(), 6), np.uint8)


def unpack_exemplar_map(packed: np.ndarray, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray | None:
    """pack_exemplar_map's inverse; None unless the bytes inflate to exactly `shape` of `dtype`."""
    size = math.prod(shape) * dtype.itemsize
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(packed.tobytes(), size)  # never more than the block declares
    except zlib.error:
        return None
    if len(raw) != size or not inflate.eof or inflate.unconsumed_tail or inflate.unused_data:
        return None
    return np.cumsum(np.frombuffer(raw, dtype).reshape(shape), axis=1, dtype=dtype)


def write_model_file(path: str | os.PathLike, tensors: dict[str, np.ndarray], manifest: dict,
                     exemplar: np.ndarray | None = None, pack: bool | None = None) -> Path:
    """Write tensors + manifest (+ the exemplar, if given) as .safetensors, atomically. `pack`: store
    the exemplar "deflate_delta" (True) or "raw" (False); None keeps the encoding the manifest's
    exemplar block names, so a model file read and written again stays as small as it was."""
    path = Path(path)
    manifest = dict(manifest, format_version=FORMAT_VERSION)
    for key in ("metrics", "quality"):  # a measurement that came out NaN (a flat crop) is unmeasured,
        if key in manifest:             # not a reason to write a file that no loader takes
            manifest[key] = _unmeasured_as_null(manifest[key])
    if exemplar is not None:
        block = dict(manifest.get("exemplar") or {})
        kept = block.pop("encoding", "raw")
        encoding = kept if pack is None else ("deflate_delta" if pack else "raw")
        tensors = {**tensors, **encode_exemplar(exemplar, encoding)}
        manifest["exemplar"] = {**block, "height": int(exemplar.shape[0]), "width": int(exemplar.shape[1]),
                                "maps": [m for m, _, _ in EXEMPLAR_MAPS],
                                **({"encoding": encoding} if encoding != "raw" else {})}
    validate_manifest(manifest, path)
    header: dict = {"__metadata__": {MANIFEST_KEY: json.dumps(manifest, sort_keys=True)}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        if arr.dtype.newbyteorder("<") in _DTYPE_NAMES:
            arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        if arr.dtype not in _DTYPE_NAMES:
            arr = arr.astype("<f4")
        arr = arr.astype(arr.dtype.newbyteorder("<"), copy=False)
        data = arr.tobytes()
        header[name] = {"dtype": _DTYPE_NAMES[arr.dtype], "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)  # keep tensor data 8-byte aligned
    tmp = path.with_name(path.name + ".part")
    try:
        with open(tmp, "wb") as f:
            f.write(struct.pack("<Q", len(raw)))
            f.write(raw)
            for blob in blobs:
                f.write(blob)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a failed or interrupted write leaves nothing behind
        raise
    return path


# ---------------------------------------------------------------- kinds of model file

# What each kind of model file is, and what takes it, in the user's words: the terminal's commands
# and options first, then the Blender operator or panel.
ROLES = {
    "generator": ("a material generator",
                  "generate --model, interpolate --model, transform --model or Generate Material"),
    "vae": ("a texture VAE", "variations --model, interpolate --model, generate --model or Variations"),
    "photo_to_maps": ("a photo translator (photo -> maps)", "photo2mat --translator or Image to Material"),
    "maps_to_maps": ("a material translator (maps -> maps)", "transform --translator or Transform Material"),
}
MAKES_MATERIALS = ("generator", "vae")  # what generate, interpolate and trainer eval run


def model_role(manifest: dict) -> str:
    """A validated manifest's kind, translators told apart by direction: a key of ROLES."""
    if manifest["kind"] == "translator":
        return manifest["translator"]["direction"]
    return manifest["kind"]


def check_role(manifest: dict, path: str | os.PathLike, roles: tuple[str, ...], needed: str = "") -> None:
    """Refuse a model file of a kind the caller does not run, saying what it is and what takes it
    (not 'unknown architecture' from deep inside the wrong loader). `needed`: why, in words."""
    role = model_role(manifest)
    if role not in roles:
        what, takes = ROLES[role]
        # what is needed comes before the list: callers that cut a line short keep the point
        raise ModelFileError(path, f"is {what}; " + (f"{needed}; " if needed else "") + f"use it with {takes}")


def _unmeasured_as_null(value):
    if isinstance(value, dict):
        return {k: _unmeasured_as_null(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_unmeasured_as_null(v) for v in value]
    return None if isinstance(value, float) and not math.isfinite(value) else value


# ---------------------------------------------------------------- reading

def read_manifest(path: str | os.PathLike, roles: tuple[str, ...] = (), needed: str = "") -> dict:
    """Only the manifest (cheap: reads the header, not the weights). `roles`: see check_role."""
    return _read(Path(path), False, roles, needed).manifest


def read_model_file(path: str | os.PathLike, roles: tuple[str, ...] = (), needed: str = "") -> ModelFile:
    """Manifest and tensors, fully validated against the architecture. `roles` (ROLES' keys): the
    kinds of model the caller runs; a file of another kind says what it is and what takes it."""
    return _read(Path(path), True, roles, needed)


def _loads(text: str, not_json: str, what: str, fail):
    """JSON text -> value, nesting bounded before parsing (the parser recurses once per level)."""
    if _nesting_depth(text) > MAX_NESTING:
        fail(f"has a {what} nested too deeply (more than {MAX_NESTING} levels)")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        fail(not_json)
    except RecursionError:  # a deep stack already (a worker thread): still one line
        fail(f"has a {what} nested too deeply")
    except ValueError:  # an integer of thousands of digits (Python refuses to convert it)
        fail(f"has a {what} with a number too long to read")


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)


def _nesting_depth(text: str) -> int:
    """The deepest [ / { nesting of JSON text, brackets inside strings not counted. In numpy: a
    16 MB header takes milliseconds, and text that is not JSON is left to the parser to refuse."""
    bare = np.frombuffer(_JSON_STRING.sub('""', text).encode("utf-8", "replace"), np.uint8)
    step = np.zeros(bare.shape, np.int32)
    for char, change in ((b"[", 1), (b"{", 1), (b"]", -1), (b"}", -1)):
        step[bare == char[0]] = change
    return int(np.cumsum(step).max(initial=0))


def _read(path: Path, with_tensors: bool, roles: tuple[str, ...] = (), needed: str = "") -> ModelFile:
    def fail(problem: str):
        raise ModelFileError(path, problem)

    if path.suffix.lower() != ".safetensors":
        fail("is not a .safetensors file")
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            prefix = f.read(8)
            if len(prefix) < 8:
                fail("is truncated (shorter than a safetensors header)")
            (header_len,) = struct.unpack("<Q", prefix)
            if header_len > MAX_HEADER_BYTES or header_len > size - 8:
                fail("is not a valid safetensors file (header length out of range)"
                     if header_len > MAX_HEADER_BYTES else "is truncated (header runs past the end)")
            raw = f.read(header_len)
            if size > MAX_FILE_BYTES:
                fail(f"is too large ({size / 1024 ** 3:.1f} GB)")
            data = f.read() if with_tensors else b""
    except FileNotFoundError:
        fail("does not exist")
    except IsADirectoryError:
        fail("is a folder, not a file")
    except OSError as exc:
        fail(f"cannot be read ({exc.strerror or exc})")

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        fail("is not a valid safetensors file (its header is not JSON)")
    header = _loads(text, "is not a valid safetensors file (its header is not JSON)", "header", fail)
    if not isinstance(header, dict):
        fail("is not a valid safetensors file (its header is not a JSON object)")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or MANIFEST_KEY not in meta:
        fail("is a safetensors file but not a TexGAN model (no manifest)")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        fail("is not a valid safetensors file (its __metadata__ must map strings to strings)")
    manifest = _loads(meta[MANIFEST_KEY], "has a manifest that is not valid JSON", "manifest", fail)
    validate_manifest(manifest, path)
    if roles:  # before the weights are read: the wrong kind of file is told at once
        check_role(manifest, path, roles, needed)

    tensors: dict[str, np.ndarray] = {}
    if with_tensors:
        data_len = size - 8 - header_len
        if len(data) != data_len:
            fail("changed while it was being read")
        tensors = _parse_tensors(header, data, fail)
        exemplar = _take_exemplar(manifest, tensors, fail)
        _check_against_architecture(manifest, tensors, fail)
        return ModelFile(path, manifest, tensors, exemplar)
    return ModelFile(path, manifest, tensors)


def _parse_tensors(header: dict, data: bytes, fail) -> dict[str, np.ndarray]:
    tensors, end_max = {}, 0
    for name, info in header.items():
        if not isinstance(info, dict):
            fail(f"has a malformed entry for tensor '{name}'")
        dtype = _DTYPES.get(info.get("dtype"))
        if dtype is None:
            fail(f"stores tensor '{name}' as unsupported dtype {info.get('dtype')!r}")
        shape, offsets = info.get("shape"), info.get("data_offsets")
        if (not isinstance(shape, list) or len(shape) > 8 or not all(_is_int(s, 0, 2 ** 31) for s in shape)
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(_is_int(o, 0, MAX_FILE_BYTES) for o in offsets)):
            fail(f"has a malformed entry for tensor '{name}'")
        begin, end = offsets
        if not 0 <= begin <= end:
            fail(f"has bad data offsets for tensor '{name}'")
        if end > len(data):
            fail("is truncated (tensor data runs past the end of the file)")
        if end - begin != math.prod(shape) * dtype.itemsize:
            fail(f"has a size mismatch for tensor '{name}'")
        arr = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=begin).reshape(shape)
        tensors[name] = arr.astype(np.float32) if dtype.kind == "f" else arr  # integers: exemplar maps
        end_max = max(end_max, end)
    return tensors


def _take_exemplar(manifest: dict, tensors: dict, fail) -> np.ndarray | None:
    """Remove the exemplar tensors from `tensors`, check them against the manifest's exemplar block,
    and return the exemplar as an (h, w, 5) float32 stack in [0, 1] (None if the model has none)."""
    names = [n for n in tensors if n.startswith(EXEMPLAR_PREFIX)]
    block = manifest.get("exemplar")
    if block is None:
        if names:
            fail(f"has exemplar tensors ({names[0]}) but no exemplar block in its manifest")
        return None
    h, w = block["height"], block["width"]
    packed = block.get("encoding", "raw") == "deflate_delta"
    arrays = []
    for name, _, _ in EXEMPLAR_MAPS:
        arr = tensors.pop(EXEMPLAR_PREFIX + name, None)
        if arr is None:
            fail(f"declares an exemplar but lacks its '{name}' map")
        if packed and (arr.dtype != np.uint8 or arr.ndim != 1):
            fail(f"has a packed exemplar '{name}' map of {_DTYPE_NAMES.get(arr.dtype, arr.dtype)} "
                 f"{tuple(arr.shape)}, expected U8 bytes")
        arrays.append(arr)
    if packed:   # zlib and numpy let the maps inflate side by side (a first generation waits for them)
        with ThreadPoolExecutor(len(arrays)) as pool:
            arrays = list(pool.map(lambda arr, spec: unpack_exemplar_map(arr, (h, w, spec[1]), _DTYPES[spec[2]]),
                                   arrays, EXEMPLAR_MAPS))
    out = np.empty((h, w, sum(channels for _, channels, _ in EXEMPLAR_MAPS)), np.float32)
    start = 0
    for arr, (name, channels, dtype) in zip(arrays, EXEMPLAR_MAPS):
        if arr is None:
            fail(f"has a packed exemplar '{name}' map that does not unpack to {dtype} {(h, w, channels)}")
        if arr.dtype != _DTYPES[dtype] or arr.shape != (h, w, channels):
            fail(f"has an exemplar '{name}' map of {_DTYPE_NAMES.get(arr.dtype, arr.dtype)} {tuple(arr.shape)}, "
                 f"expected {dtype} {(h, w, channels)}")
        np.divide(arr, np.float32(255.0 if dtype == "U8" else 65535.0), out=out[..., start:start + channels])
        start += channels
    extra = [n for n in tensors if n.startswith(EXEMPLAR_PREFIX)]
    if extra:
        fail(f"has unexpected exemplar tensors: {', '.join(extra[:3])}")
    return out


def expected_shapes(manifest: dict) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every weight the manifest's architecture has."""
    if manifest["kind"] == "translator":
        if manifest["translator"]["direction"] == "maps_to_maps":
            return material_translator_param_shapes(material_translator_config_from_manifest(manifest["architecture"]))
        return unet_param_shapes(translator_config_from_manifest(manifest["architecture"]))
    if manifest["kind"] == "vae":
        return vae_param_shapes(vae_config_from_manifest(manifest["architecture"]))
    return param_shapes(config_from_manifest(manifest["architecture"]))


def _check_against_architecture(manifest: dict, tensors: dict, fail) -> None:
    expected = expected_shapes(manifest)
    missing = sorted(set(expected) - set(tensors))
    if missing:
        fail(f"is missing weights: {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}")
    extra = sorted(set(tensors) - set(expected))
    if extra:
        fail(f"has unexpected weights: {', '.join(extra[:3])}{' ...' if len(extra) > 3 else ''}")
    for name, shape in expected.items():
        if tuple(tensors[name].shape) != shape:
            fail(f"has weight '{name}' of shape {tuple(tensors[name].shape)}, expected {shape}")
        if not np.isfinite(tensors[name]).all():
            fail(f"has NaN or infinite values in weight '{name}'")


# ---------------------------------------------------------------- manifest

def validate_manifest(manifest, path: str | os.PathLike = "<manifest>") -> None:
    """Refuse anything a reader could trip on: every string, number and nesting level is checked,
    then each block against what its readers expect. ModelFileError, one line."""
    def fail(problem: str):
        raise ModelFileError(path, problem)

    if not isinstance(manifest, dict):
        fail("has a manifest that is not a JSON object")
    if "name" in manifest:  # first: the name's own words ("folders", "control characters")
        _check_name(manifest["name"], fail)
    _check_values(manifest, fail)
    version = manifest.get("format_version")
    if not _is_int(version, FORMAT_VERSION, FORMAT_VERSION):
        fail(f"has format version {_shown(version)}; this add-on reads version {FORMAT_VERSION} "
             "(update the add-on or re-export the model)")
    for key in ("name", "kind", "architecture", "maps"):
        if key not in manifest:
            fail(f"has no '{key}' in its manifest")
    if manifest["kind"] not in KINDS:
        fail(f"is a {_shown(manifest['kind'])} model; this version runs {', '.join(KINDS)} models")
    _validate_maps(manifest["maps"], fail)
    _check_informative(manifest, fail)
    _check_ranges(manifest, fail)
    if manifest["kind"] == "translator":
        _validate_translator(manifest, fail)
    else:
        _validate_generator(manifest, fail)


def _shown(value, limit: int = 40) -> str:
    """A hostile value quoted for a one-line message: escaped, printable, short."""
    text = ascii(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _is_int(value, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


def _is_number(value, lo: float, hi: float) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and lo <= value <= hi)


def _control_characters(text: str, free: bool) -> bool:
    """Whether text holds control or format characters (escapes, NUL, bidirectional overrides,
    line separators); `free` prose may hold newlines and tabs."""
    if text.isprintable():  # the fast path: nearly every string
        return False
    allowed = "\n\t" if free else ""
    return any(c not in allowed and unicodedata.category(c) in ("Cc", "Cf", "Cs", "Zl", "Zp") for c in text)


def _check_values(value, fail, where: str = "", depth: int = 0) -> None:
    """Walk the whole manifest: bounded nesting, finite and sane numbers, one-line bounded text."""
    if depth > MAX_NESTING:
        fail(f"has a manifest nested too deeply (more than {MAX_NESTING} levels)")
    label = f"'{where}'" if where else "its manifest"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str) or len(key) > MAX_NAME_CHARS or _control_characters(key, False):
                fail(f"has a key {_shown(key)} in {label} that is not a short plain word")
            _check_values(item, fail, f"{where}.{key}" if where else key, depth + 1)
    elif isinstance(value, (list, tuple)):
        for item in value:
            _check_values(item, fail, where, depth + 1)
    elif isinstance(value, str):
        if len(value) > MAX_TEXT_CHARS:
            fail(f"has a text of {len(value)} characters in {label}; at most {MAX_TEXT_CHARS} are read")
        if _control_characters(value, where in FREE_TEXT_KEYS):
            fail(f"has control characters in {label} ({_shown(value)})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            fail(f"has a non-finite number ({value}) in {label}")
    elif isinstance(value, int) and not isinstance(value, bool):
        if abs(value) > MAX_INT:
            fail(f"has an absurd number ({_shown(value)}) in {label}")
    elif value is not None and not isinstance(value, bool):
        fail(f"has a value that is not JSON in {label}")


def _check_name(name, fail) -> None:
    """A model name is shown in panels and the terminal and starts file names: one plain line."""
    if not isinstance(name, str) or not name.strip():
        fail("has an empty model name")
    if len(name) > MAX_NAME_CHARS:
        fail(f"has a model name of {len(name)} characters (at most {MAX_NAME_CHARS})")
    if _control_characters(name, False):
        fail(f"has a model name with control characters in it ({_shown(name)})")
    if any(c in name for c in "/\\:"):  # ':' too: 'C:x' is a drive on Windows
        fail(f"has a model name with folders in it ({_shown(name)}); a model name is a plain name")
    if name.startswith("."):
        fail(f"has a model name that starts with a dot ({_shown(name)})")


# Where a reader takes a block or a text for granted, its type; None: may be absent or null.
_BLOCKS = ("architecture", "latent", "exemplar", "translator", "training", "metrics", "quality", "photo")
_TEXTS = ("description", "review", "license", "normal_convention", "network", "source")
_TEXT_LISTS = ("credits", "training.sets")

# Every number a reader uses: (dotted key, integer?, lowest, highest). Bundled models sit well inside.
_RANGES = (
    ("normal_strength", False, *NORMAL_STRENGTH_RANGE),
    ("exemplar.normal_strength", False, *NORMAL_STRENGTH_RANGE),
    ("translator.normal_strength", False, *NORMAL_STRENGTH_RANGE),
    ("translator.working_scale", True, 1, 1024),
    ("native_tile_size", True, 8, 1 << 16),
    ("real_world_size_m", False, 1e-3, 1e3),
    ("latent.channels", True, 1, 1024),
    ("latent.local_channels", True, 0, 1024),
    ("latent.global_channels", True, 0, 1024),
    ("latent.scale", True, 1, 1024),
    ("latent.periodic_periods", False, 1e-3, 1e6),     # wave periods in latent cells, each
    ("architecture.config.latent_channels", True, 1, 1024),
    ("architecture.config.out_channels", True, 1, 1024),
    ("architecture.config.channels", True, 1, 1024),    # widths, each
    ("photo.size", True, 1, 1 << 20),                   # the source photo's width and height
    ("training.steps", True, 0, MAX_INT),
    ("training.planned_steps", True, 0, MAX_INT),
    ("training.seconds", False, 0.0, 1e9),
    ("training.max_minutes", False, 0.0, 1e7),
    ("training.batch", True, 1, 1 << 16),
    ("training.crop", True, 1, 1 << 16),
    ("training.downsample", True, 0, 1024),
)


def _lookup(manifest: dict, dotted: str):
    """The value at a dotted key, or None where any step is absent (block types are checked first)."""
    value = manifest
    for key in dotted.split("."):
        value = value.get(key) if isinstance(value, dict) else None
    return value


def _check_informative(manifest: dict, fail) -> None:
    """Blocks and texts the card, the panels and the trainer read: of the type they take."""
    for key in _BLOCKS:
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            fail(f"has a malformed {key} block (not a JSON object)")
    for key in _TEXTS:
        if manifest.get(key) is not None and not isinstance(manifest[key], str):
            fail(f"has a '{key}' that is not text")
    for key in _TEXT_LISTS:
        value = _lookup(manifest, key)
        if value is not None and not (isinstance(value, list) and all(isinstance(v, str) for v in value)):
            fail(f"has '{key}' that is not a list of texts")
    for key in ("metrics", "quality"):  # measurements: numbers (or lists and blocks of them)
        if not _only_numbers(manifest.get(key)):
            fail(f"has a '{key}' block holding something other than numbers")
    for key in ("exemplar.periodic", "translator.detail"):
        if _lookup(manifest, key) is not None and not isinstance(_lookup(manifest, key), bool):
            fail(f"has '{key}' that is not true or false")


def _only_numbers(value) -> bool:
    if isinstance(value, dict):
        return all(_only_numbers(v) for v in value.values())
    if isinstance(value, list):
        return all(_only_numbers(v) for v in value)
    return value is None or (isinstance(value, (int, float)) and not isinstance(value, bool))


def _check_ranges(manifest: dict, fail) -> None:
    for dotted, integer, lo, hi in _RANGES:
        value = _lookup(manifest, dotted)
        if value is None:
            continue
        check = _is_int if integer else _is_number
        if not all(check(v, lo, hi) for v in (value if isinstance(value, list) else [value])):
            kind = "whole numbers" if integer else "numbers"
            fail(f"has '{dotted}' of {_shown(value)}; it takes {kind} from {lo:g} to {hi:g}")


def safe_file_prefix(name: str, limit: int = 64) -> str:
    """Any text (a model name from a file) -> a file-name prefix that names a plain file inside
    the folder it is joined to, on every system: letters, digits, '-' and '_' only, no leading
    dot, at most `limit` characters, never empty. Plain names stay as they are:

    >>> safe_file_prefix("stone_wall"), safe_file_prefix("../../x"), safe_file_prefix("Stone Wall (v2)")
    ('stone_wall', 'x', 'Stone_Wall_v2')
    """
    kept = "".join(c if c.isalnum() or c in "-_" else "_" for c in str(name))
    return re.sub(r"__+", "_", kept).strip("_-")[:limit].rstrip("_-") or "model"


def _validate_translator(manifest: dict, fail) -> None:
    block = manifest.get("translator")
    if not isinstance(block, dict) or block.get("direction") not in TRANSLATOR_DIRECTIONS:
        fail(f"is a translator without a known direction (expected one of {', '.join(TRANSLATOR_DIRECTIONS)})")
    maps_to_maps = block["direction"] == "maps_to_maps"
    try:
        if maps_to_maps:
            material_translator_config_from_manifest(manifest["architecture"])
        else:
            translator_config_from_manifest(manifest["architecture"])
    except ValueError as exc:
        fail(f"has {exc}")
    if maps_to_maps:
        for key in ("from", "to"):  # the two materials in words, e.g. "clean metal" -> "rusty metal"
            if not isinstance(block.get(key), str) or not block[key].strip():
                fail(f"is a maps_to_maps translator without a '{key}' material in its translator block")
            if len(block[key]) > MAX_NAME_CHARS:  # it names materials and images in Blender
                fail(f"has a translator '{key}' material of {len(block[key])} characters (at most {MAX_NAME_CHARS})")
    if manifest.get("exemplar") is not None:
        if not maps_to_maps:  # a material translator may carry its target's exemplar (engine.material_translation: detail)
            fail("is a photo translator with an exemplar block (only generators and material translators carry one)")
        _validate_exemplar_block(manifest["exemplar"], fail)
        if manifest["exemplar"].get("guide_scale", 1) != 1:
            fail("is a material translator whose exemplar is not at the net's scale (guide_scale must be 1)")
    if not isinstance(block.get("detail", True), bool):
        fail("has a translator 'detail' default that is not true or false")


def _validate_generator(manifest: dict, fail) -> None:
    for key in ("latent", "normal_strength"):
        if key not in manifest:
            fail(f"has no '{key}' in its manifest")
    try:
        cfg = decoder_config(manifest)  # a VAE's decoder is a generator
    except ValueError as exc:
        fail(f"has {exc}")
    try:
        layout = LatentLayout.from_dict(manifest["latent"])
    except ValueError as exc:
        fail(f"has a {exc}")
    if layout.channels != cfg.latent_channels or layout.scale != cfg.scale:
        fail("has a latent layout that does not match its architecture")
    _validate_exemplar_block(manifest.get("exemplar"), fail)
    strength = manifest["normal_strength"]
    if not isinstance(strength, (int, float)) or not math.isfinite(strength) or strength <= 0:
        fail("has an invalid normal_strength")


def _validate_maps(maps, fail) -> None:
    if not isinstance(maps, list) or not all(isinstance(m, dict) for m in maps):
        fail("has a malformed map list")
    for m in maps:
        spec = MAP_BY_NAME.get(m.get("name"))
        if spec is None or m.get("channels") != spec.channels or m.get("colorspace") != spec.colorspace:
            fail(f"declares an unsupported map {m!r}")


def _validate_exemplar_block(block, fail) -> None:
    if block is None:
        return
    if not isinstance(block, dict):
        fail("has a malformed exemplar block (not a JSON object)")
    for key in ("height", "width"):
        side = block.get(key)
        if not isinstance(side, int) or isinstance(side, bool) or not EXEMPLAR_MIN_SIDE <= side <= EXEMPLAR_MAX_SIDE:
            fail(f"has an exemplar {key} of {side!r}; it must be {EXEMPLAR_MIN_SIDE}-{EXEMPLAR_MAX_SIDE} pixels")
    scale = block.get("guide_scale", 1)
    if not isinstance(scale, int) or isinstance(scale, bool) or scale < 1 or scale & (scale - 1) or scale > 64:
        fail(f"has an exemplar guide_scale of {scale!r}; it must be a power of 2 from 1 to 64")
    strength = block.get("normal_strength", 1.0)
    if not isinstance(strength, (int, float)) or not math.isfinite(strength) or strength <= 0:
        fail("has an invalid exemplar normal_strength")
    lattice = block.get("lattice", [0, 0])
    if (not isinstance(lattice, list) or len(lattice) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= EXEMPLAR_MAX_SIDE for v in lattice)):
        fail(f"has an exemplar lattice of {lattice!r}; it must be two repeats in pixels (0: none)")
    element = block.get("element", [1, 1])  # one stone's (rows, columns), measured at export (core.synthesis.quilt)
    if (not isinstance(element, list) or len(element) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= EXEMPLAR_MAX_SIDE for v in element)):
        fail(f"has an exemplar element size of {element!r}; it must be two sizes in pixels")
    if block.get("default_mode", "refined") not in ("refined", "random", "blend"):
        fail(f"has an exemplar default_mode of {block.get('default_mode')!r}; it must be refined, random or blend")
    if block.get("encoding", "raw") not in EXEMPLAR_ENCODINGS:
        fail(f"has an exemplar encoding of {_shown(block.get('encoding'))}; this add-on reads "
             f"{' or '.join(EXEMPLAR_ENCODINGS)} (update the add-on)")
    if block.get("maps") != [m for m, _, _ in EXEMPLAR_MAPS]:
        fail(f"has an exemplar with maps {block.get('maps')!r}, expected {[m for m, _, _ in EXEMPLAR_MAPS]}")
