"""The model-file format: a standard .safetensors file whose header metadata holds our manifest.

Reading parses the header as JSON and the tensors as raw little-endian arrays; nothing in the file
is ever executed. Every way a file can be malformed raises ModelFileError with one line naming the
file and the problem.
"""
from __future__ import annotations

import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .architecture import config_from_manifest, param_shapes
from .latent import LatentLayout
from .maps import MAP_BY_NAME

FORMAT_VERSION = 1
MANIFEST_KEY = "texgan_manifest"
MAX_HEADER_BYTES = 16 * 1024 * 1024
MAX_FILE_BYTES = 2 * 1024 ** 3
KINDS = ("generator",)  # vae / translator come later

_DTYPES = {"F32": np.dtype("<f4"), "F16": np.dtype("<f2")}
_DTYPE_NAMES = {v: k for k, v in _DTYPES.items()}


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
    tensors: dict[str, np.ndarray]

    @property
    def name(self) -> str:
        return self.manifest["name"]


# ---------------------------------------------------------------- writing

def write_model_file(path: str | os.PathLike, tensors: dict[str, np.ndarray], manifest: dict) -> Path:
    """Write tensors + manifest as .safetensors, atomically (temp file, then rename)."""
    path = Path(path)
    manifest = dict(manifest, format_version=FORMAT_VERSION)
    validate_manifest(manifest, path)
    header: dict = {"__metadata__": {MANIFEST_KEY: json.dumps(manifest, sort_keys=True)}}
    blobs, offset = [], 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
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


# ---------------------------------------------------------------- reading

def read_manifest(path: str | os.PathLike) -> dict:
    """Only the manifest (cheap: reads the header, not the weights)."""
    return _read(Path(path), with_tensors=False).manifest


def read_model_file(path: str | os.PathLike) -> ModelFile:
    """Manifest and tensors, fully validated against the architecture."""
    return _read(Path(path), with_tensors=True)


def _read(path: Path, with_tensors: bool) -> ModelFile:
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
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        fail("is not a valid safetensors file (its header is not JSON)")
    if not isinstance(header, dict):
        fail("is not a valid safetensors file (its header is not a JSON object)")
    meta = header.pop("__metadata__", None)
    if not isinstance(meta, dict) or MANIFEST_KEY not in meta:
        fail("is a safetensors file but not a TexGAN model (no manifest)")
    try:
        manifest = json.loads(meta[MANIFEST_KEY])
    except (TypeError, json.JSONDecodeError):
        fail("has a manifest that is not valid JSON")
    validate_manifest(manifest, path)

    tensors: dict[str, np.ndarray] = {}
    if with_tensors:
        data_len = size - 8 - header_len
        if len(data) != data_len:
            fail("changed while it was being read")
        tensors = _parse_tensors(header, data, fail)
        _check_against_architecture(manifest, tensors, fail)
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
        if (not isinstance(shape, list) or not all(isinstance(s, int) and s >= 0 for s in shape)
                or not isinstance(offsets, list) or len(offsets) != 2
                or not all(isinstance(o, int) for o in offsets)):
            fail(f"has a malformed entry for tensor '{name}'")
        begin, end = offsets
        if not 0 <= begin <= end:
            fail(f"has bad data offsets for tensor '{name}'")
        if end > len(data):
            fail("is truncated (tensor data runs past the end of the file)")
        if end - begin != math.prod(shape) * dtype.itemsize:
            fail(f"has a size mismatch for tensor '{name}'")
        arr = np.frombuffer(data, dtype=dtype, count=math.prod(shape), offset=begin).reshape(shape)
        tensors[name] = arr.astype(np.float32)
        end_max = max(end_max, end)
    return tensors


def _check_against_architecture(manifest: dict, tensors: dict, fail) -> None:
    expected = param_shapes(config_from_manifest(manifest["architecture"]))
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
    def fail(problem: str):
        raise ModelFileError(path, problem)

    if not isinstance(manifest, dict):
        fail("has a manifest that is not a JSON object")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        fail(f"has format version {version!r}; this add-on reads version {FORMAT_VERSION} "
             "(update the add-on or re-export the model)")
    for key in ("name", "kind", "architecture", "maps", "latent", "normal_strength"):
        if key not in manifest:
            fail(f"has no '{key}' in its manifest")
    if not isinstance(manifest["name"], str) or not manifest["name"].strip():
        fail("has an empty model name")
    if manifest["kind"] not in KINDS:
        fail(f"is a {manifest['kind']!r} model; this version runs {', '.join(KINDS)} models")
    try:
        cfg = config_from_manifest(manifest["architecture"])
    except ValueError as exc:
        fail(f"has {exc}")
    maps = manifest["maps"]
    if not isinstance(maps, list) or not all(isinstance(m, dict) for m in maps):
        fail("has a malformed map list")
    for m in maps:
        spec = MAP_BY_NAME.get(m.get("name"))
        if spec is None or m.get("channels") != spec.channels or m.get("colorspace") != spec.colorspace:
            fail(f"declares an unsupported map {m!r}")
    try:
        layout = LatentLayout.from_dict(manifest["latent"])
    except ValueError as exc:
        fail(f"has a {exc}")
    if layout.channels != cfg.latent_channels or layout.scale != cfg.scale:
        fail("has a latent layout that does not match its architecture")
    strength = manifest["normal_strength"]
    if not isinstance(strength, (int, float)) or not math.isfinite(strength) or strength <= 0:
        fail("has an invalid normal_strength")
