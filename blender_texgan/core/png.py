"""A small PNG writer (standard library zlib + numpy), so the terminal entry needs no Pillow; with ISA-L's
deflate (the optional `isal` package, in requirements.txt) its streams are made 3-4x faster.

    write_png(path, image, bits=16)            # one file, atomically
    with PngSet() as files:                    # a map set, all or nothing
        files.add(folder / "wall_albedo.png", albedo)
        files.add(folder / "wall_height.png", height, bits=16)

Every file is written to `name.part` first and renamed into place, so a full disk, an error or
Ctrl-C never leaves a half-written PNG under the final name; a PngSet renames its files only once
every one of them is written, and removes its parts when anything fails (no partial map sets).
"""
from __future__ import annotations

import os
import struct
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

try:   # optional: ISA-L writes the same zlib streams 3-4x faster; Blender's Python goes without it
    from isal import isal_zlib
except ImportError:
    isal_zlib = None

_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


BAND_BYTES = 1 << 20  # rows are compressed in bands of about this size: no long GIL-held copies


def _chunk(kind: bytes, data: bytes) -> list[bytes]:
    crc = zlib.crc32(data, zlib.crc32(kind)) & 0xFFFFFFFF
    return [struct.pack(">I", len(data)), kind, data, struct.pack(">I", crc)]


# Each row filtered by PNG's Sub filter (the difference to the pixel on its left), then Huffman
# coding alone: photographic maps hold few repeated strings, so the string search of zlib's levels
# costs time for little. A 2048 px stone_wall set: 23.6 MB in 0.54 s of zlib time, where unfiltered
# rows at level 1 took 26.7 MB in 1.08 s (level 6: 26.6 MB, 2.2 s).
COMPRESSION = 1
STRATEGY = zlib.Z_HUFFMAN_ONLY
SUB_FILTER = 1
# With isal: its level 1 (string matching too) on the same Sub-filtered rows, 3-4x faster than zlib's
# Huffman coding and no bigger (a 2048 px stone_wall set 23.2 MB in 0.23 s of one core, zlib 23.9 MB in
# 0.74 s; benchmarks/results/joined.txt). Releases the GIL like zlib.
ISAL_LEVEL = 1


def _compressor(compression: int):
    """A zlib stream's compressor: ISA-L's when installed (at ISAL_LEVEL, the default `compression`
    only), else the standard library's."""
    if isal_zlib is not None and compression == COMPRESSION:
        return isal_zlib.compressobj(ISAL_LEVEL, isal_zlib.DEFLATED, 15)
    return zlib.compressobj(compression, zlib.DEFLATED, 15, 8, STRATEGY)


def _quantised(band: np.ndarray, bits: int) -> np.ndarray:
    """(n, W, C) floats -> (n, W * C * bits / 8) big-endian bytes of the rounded, clipped values;
    uint8 (bits 8) or uint16 (bits 16) values are stored as they are (core.map_bands)."""
    if band.dtype == (np.uint16 if bits == 16 else np.uint8):
        q = np.ascontiguousarray(band, ">u2" if bits == 16 else np.uint8)
        return q.reshape(q.shape[0], -1).view(np.uint8)
    top = np.float32(255 if bits == 8 else 65535)
    q = np.clip(band, 0.0, 1.0).astype(np.float32, copy=False)
    q *= top
    np.rint(q, out=q)
    q = q.astype(">u2" if bits == 16 else np.uint8)
    return q.reshape(q.shape[0], -1).view(np.uint8)


def _sub_filtered(rows: np.ndarray, step: int) -> np.ndarray:
    """(n, L) bytes -> (n, L + 1): each row led by its filter type, then Sub-filtered (each byte less
    the byte `step` before it, a pixel to the left, modulo 256)."""
    out = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
    out[:, 0] = SUB_FILTER
    out[:, 1:1 + step] = rows[:, :step]
    np.subtract(rows[:, step:], rows[:, :-step], out=out[:, 1 + step:])
    return out


def encode_png(image: np.ndarray, bits: int = 8, compression: int = COMPRESSION) -> bytes:
    """Encode an (H, W) or (H, W, C) float array in [0, 1] (C in 1, 3, 4) as PNG bytes (or the uint8 /
    uint16 values to store); rows are rounded, filtered and compressed a band at a time (no
    full-size integer copy)."""
    a = np.asarray(image)
    if a.ndim == 2:
        a = a[..., None]
    if a.ndim != 3 or a.shape[2] not in _COLOR_TYPE:
        raise ValueError(f"cannot write an image of shape {a.shape} as PNG")
    if bits not in (8, 16):
        raise ValueError("bits must be 8 or 16")
    h, w, c = a.shape
    band = max(1, BAND_BYTES // (w * c * bits // 8 + 1))
    compressor = _compressor(compression)
    parts = [compressor.compress(_sub_filtered(_quantised(a[r0:r0 + band], bits), c * bits // 8))
             for r0 in range(0, h, band)]
    parts.append(compressor.flush())
    header = struct.pack(">IIBBBBB", w, h, bits, _COLOR_TYPE[c], 0, 0, 0)
    pieces = [b"\x89PNG\r\n\x1a\n", *_chunk(b"IHDR", header), *_chunk(b"IDAT", b"".join(parts)),
              *_chunk(b"IEND", b"")]
    return b"".join(pieces)


def part_path(path: Path) -> Path:
    """Where `path` is written before it is complete."""
    return path.with_name(path.name + ".part")


def _write_part(part: Path, data: bytes) -> None:
    """The one place bytes reach the disk (tests make it fail as a full disk would)."""
    with open(part, "wb") as f:
        f.write(data)


def _remove(paths) -> None:
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError:  # cleaning up after a failure must not hide the failure
            pass


def write_png(path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> Path:
    """Write atomically: a killed process never leaves a half-written PNG under the final name,
    and a failed write (disk full) leaves nothing at all."""
    with PngSet() as files:
        files.add(path, image, bits)
    return Path(path)


class PngSet:
    """PNG files written all or nothing: add() writes each to its part file, commit() (or leaving
    the `with` block normally) renames them all into place; abort() (or any exception, Ctrl-C too)
    removes the parts, so a map set is either complete or absent."""

    def __init__(self):
        self.parts: list[tuple[Path, Path]] = []   # (part, final)
        self.written: list[Path] = []

    def add(self, path: str | os.PathLike, image: np.ndarray, bits: int = 8) -> Path:
        return self._store(Path(path), encode_png(image, bits))  # encoding errors leave nothing to clean up

    def add_all(self, items: list[tuple[str | os.PathLike, np.ndarray, int]]) -> list[Path]:
        """add() for several (path, image, bits), encoded side by side: zlib lets the other threads
        run, so a map set's four files take about the time of the largest on two cores."""
        with ThreadPoolExecutor(max_workers=max(1, min(len(items), os.cpu_count() or 1))) as pool:
            encoded = list(pool.map(lambda item: encode_png(item[1], item[2]), items))
        return [self._store(Path(path), data) for (path, _, _), data in zip(items, encoded)]

    def _store(self, path: Path, data: bytes) -> Path:
        self.parts.append((part_path(path), path))
        try:
            _write_part(part_path(path), data)
        except OSError as exc:
            exc.filename = str(path)  # the user's name for the file, not the part's
            raise
        return path

    def commit(self) -> list[Path]:
        renamed: list[Path] = []
        try:
            for part, final in self.parts:
                os.replace(part, final)
                renamed.append(final)
        except BaseException:
            _remove(renamed)  # a set cut short by a failed rename is no set either
            raise
        finally:
            _remove(part for part, _ in self.parts)
            self.parts = []
        self.written.extend(renamed)
        return self.written

    def abort(self) -> None:
        _remove(part for part, _ in self.parts)
        self.parts = []

    def __enter__(self) -> PngSet:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.commit()
        else:
            self.abort()
