"""A small PNG writer (standard library zlib + numpy), so the terminal entry needs no Pillow."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

import numpy as np

_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


BAND_BYTES = 1 << 20  # rows are compressed in bands of about this size: no long GIL-held copies


def _chunk(kind: bytes, data: bytes) -> list[bytes]:
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return [struct.pack(">I", len(data)), kind, data, struct.pack(">I", crc)]


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
    band = max(1, BAND_BYTES // (rows.shape[1] + 1))
    compressor = zlib.compressobj(compression)
    parts = []
    for r0 in range(0, h, band):
        block = np.zeros((min(band, h - r0), rows.shape[1] + 1), np.uint8)  # filter byte 0 per row
        block[:, 1:] = rows[r0:r0 + band]
        parts.append(compressor.compress(block.tobytes()))
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", w, h, bits, _COLOR_TYPE[c], 0, 0, 0)
    pieces = [b"\x89PNG\r\n\x1a\n", *_chunk(b"IHDR", header), *_chunk(b"IDAT", b"".join(parts)),
              *_chunk(b"IEND", b"")]
    return b"".join(pieces)


def write_png(path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> Path:
    """Write atomically: a killed process never leaves a half-written PNG under the final name."""
    path = Path(path)
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(encode_png(image, bits))
    os.replace(tmp, path)
    return path
