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
from contextlib import closing
from pathlib import Path

import numpy as np

try:   # optional: ISA-L writes the same zlib streams 3-4x faster; Blender's Python goes without it
    from isal import isal_zlib
except ImportError:
    isal_zlib = None

_COLOR_TYPE = {1: 0, 3: 2, 4: 6}  # channels -> PNG colour type (grey, RGB, RGBA)


BAND_BYTES = 1 << 20  # rows are compressed in bands of about this size: no long GIL-held copies


def _chunk(kind: bytes, *pieces: bytes) -> list[bytes]:
    """A PNG chunk whose data is the pieces one after another (never joined: an IDAT may be 0.2 GB)."""
    crc = zlib.crc32(kind)
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
    return [struct.pack(">I", sum(map(len, pieces))), kind, *pieces, struct.pack(">I", crc & 0xFFFFFFFF)]


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
    """A raw deflate compressor (the zlib stream's header and checksum are written around the bands):
    ISA-L's when installed (at ISAL_LEVEL, for the default `compression` only), else the standard library's."""
    if isal_zlib is not None and compression == COMPRESSION:
        return isal_zlib.compressobj(ISAL_LEVEL, isal_zlib.DEFLATED, -15)
    return zlib.compressobj(compression, zlib.DEFLATED, -15, 8, STRATEGY)


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


def _adler32_combine(first: int, second: int, length: int) -> int:
    """The Adler-32 of two pieces of data from each piece's own (length: the second's bytes):
    A = A1 + A2 - 1, B = B1 + B2 + length (A1 - 1), modulo 65521 (the checksum's definition)."""
    base = 65521
    a1, b1, a2, b2 = first & 0xFFFF, first >> 16, second & 0xFFFF, second >> 16
    return ((a1 + a2 - 1) % base) | (((b1 + b2 + length * (a1 - 1)) % base) << 16)


class _Encoding:
    """One PNG in bands of rows: each band rounded, filtered and deflated on its own (a deflate stream may
    be cut into independently compressed pieces, each ended by a sync flush but the last), so the bands of
    a map set's files share threads evenly; the pieces and their checksums are joined in order."""

    def __init__(self, image: np.ndarray, bits: int, compression: int):
        a = np.asarray(image)
        if a.ndim == 2:
            a = a[..., None]
        if a.ndim != 3 or a.shape[2] not in _COLOR_TYPE:
            raise ValueError(f"cannot write an image of shape {a.shape} as PNG")
        if bits not in (8, 16):
            raise ValueError("bits must be 8 or 16")
        self.image, self.bits, self.compression = a, bits, compression
        h, w, c = a.shape
        rows = max(1, BAND_BYTES // (w * c * bits // 8 + 1))
        self.bands = [(r0, min(h, r0 + rows)) for r0 in range(0, h, rows)]

    def band(self, k: int) -> tuple[bytes, int, int]:
        """Band k's (deflated bytes, Adler-32 of its filtered rows, their length)."""
        r0, r1 = self.bands[k]
        c = self.image.shape[2]
        raw = _sub_filtered(_quantised(self.image[r0:r1], self.bits), c * self.bits // 8)
        compressor = _compressor(self.compression)
        last = k == len(self.bands) - 1
        data = compressor.compress(raw) + compressor.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)
        return data, zlib.adler32(raw), raw.size

    def join(self, pieces: list[tuple[bytes, int, int]]) -> list[bytes]:
        """The whole file from its bands' pieces, as a list of byte strings in file order (written one
        after another: an 8192 px map's compressed bytes are never copied whole)."""
        checksum = 1
        for _, adler, length in pieces:
            checksum = _adler32_combine(checksum, adler, length)
        stream = [b"\x78\x01", *(data for data, _, _ in pieces), struct.pack(">I", checksum)]
        h, w, c = self.image.shape
        header = struct.pack(">IIBBBBB", w, h, self.bits, _COLOR_TYPE[c], 0, 0, 0)
        return [b"\x89PNG\r\n\x1a\n", *_chunk(b"IHDR", header), *_chunk(b"IDAT", *stream), *_chunk(b"IEND")]


def _encoded(encodings: list[_Encoding]):
    """Each encoding's PNG file (a list of byte strings, _Encoding.join), in order, as soon as its own
    bands are done: the bands of all of them run side by side in threads (zlib and ISA-L let the others
    run), so a file can be written while the next ones are still being compressed."""
    jobs = [(e, k) for e in encodings for k in range(len(e.bands))]
    workers = max(1, min(len(jobs), os.cpu_count() or 1))
    pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None   # one band: no thread to start
    try:
        pieces = (pool.map if pool else map)(lambda job: job[0].band(job[1]), jobs)
        for e in encodings:
            yield e.join([next(pieces) for _ in e.bands])
    finally:
        if pool:
            pool.shutdown(wait=True, cancel_futures=True)   # a failed write stops the bands not yet begun


def encode_png(image: np.ndarray, bits: int = 8, compression: int = COMPRESSION) -> bytes:
    """Encode an (H, W) or (H, W, C) float array in [0, 1] (C in 1, 3, 4) as PNG bytes (or the uint8 /
    uint16 values to store); rows are rounded, filtered and compressed a band at a time, bands side by
    side in threads (no full-size integer copy)."""
    return b"".join(next(_encoded([_Encoding(image, bits, compression)])))


def part_path(path: Path) -> Path:
    """Where `path` is written before it is complete."""
    return path.with_name(path.name + ".part")


def _write_part(part: Path, pieces: list[bytes]) -> None:
    """The one place bytes reach the disk, a file's byte strings one after another (tests make it
    fail as a full disk would)."""
    with open(part, "wb") as f:
        f.writelines(pieces)


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
        return self._store(Path(path), [encode_png(image, bits)])  # encoding errors leave nothing to clean up

    def add_all(self, items: list[tuple[str | os.PathLike, np.ndarray, int]]) -> list[Path]:
        """add() for several (path, image, bits), their bands encoded side by side in threads (the
        cores share the set's work evenly, whatever its files' sizes), each file written as soon as
        its bands are done."""
        # closed at once on a failed write, so the bands not yet begun are dropped, not compressed for nothing
        with closing(_encoded([_Encoding(image, bits, COMPRESSION) for _, image, bits in items])) as encoded:
            return [self._store(Path(path), pieces) for (path, _, _), pieces in zip(items, encoded)]

    def _store(self, path: Path, pieces: list[bytes]) -> Path:
        self.parts.append((part_path(path), path))
        try:
            _write_part(part_path(path), pieces)
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
