"""A small PNG writer (standard library zlib + numpy), so the terminal entry needs no Pillow."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def encode_png(image: np.ndarray, bits: int = 8, compression: int = 6) -> bytes:
    """Encode an (H, W) or (H, W, C) float array in [0, 1] (C in 1, 3, 4) as PNG bytes."""
    a = np.asarray(image, np.float32)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in _COLOR_TYPE:
        raise ValueError(f"cannot write an image of shape {a.shape} as PNG")
    if bits not in (8, 16):
        raise ValueError("bits must be 8 or 16")
    h, w, c = a.shape
    top = 255 if bits == 8 else 65535
    q = np.rint(np.clip(a, 0.0, 1.0) * top).astype(">u2" if bits == 16 else np.uint8)
    rows = q.reshape(h, w * c).view(np.uint8).reshape(h, -1)
    raw = np.concatenate([np.zeros((h, 1), np.uint8), rows], axis=1).tobytes()  # filter 0 per row
    header = struct.pack(">IIBBBBB", w, h, bits, _COLOR_TYPE[c], 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(raw, compression)) + _chunk(b"IEND", b""))


def write_png(path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> Path:
    """Write atomically: a killed process never leaves a half-written PNG under the final name."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(encode_png(image, bits))
    os.replace(tmp, path)
    return path
