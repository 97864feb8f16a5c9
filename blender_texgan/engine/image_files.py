"""Image files in, one clear reason out when they cannot be used; and the batch driver of the photo tools.

    loaded = load_image("wall.jpg")      # LoadedImage: pixels (H, W, 1 or 3) float32 in [0, 1], bits 8 or 16
    pixels = read_image("wall.jpg")      # just the pixels
    done, skipped = run_batch(paths, process_one, "seamless")

Reading is robust to what people put in folders: grey images stay 1 channel; alpha is dropped;
CMYK, palette and other modes become RGB; 16-bit images are scaled by 65535 (and say bits=16);
phone photos are turned upright (EXIF). Images over max_pixels are refused from the header, before
anything is decoded; images under min_side, truncated or corrupt files and non-images are refused
too, each with one line (``reason``). Pillow is imported only when an image is read: Blender ships
it on most platforms, and a Python without it gets one line saying so.

The trainer reads its folders with these functions (trainer.folder); the add-on never imports the trainer.
"""
from __future__ import annotations

import errno
import io
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, TextIO

import numpy as np

MIN_SIDE = 32
DEFAULT_MAX_PIXELS = 8192 * 8192
# Write errors that every later image of a batch would meet alike: the batch stops on the first.
OUTPUT_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EFBIG})


class SkipFile(Exception):
    """A file that cannot be used; str() is the reason."""


class PillowMissing(SkipFile):
    """This Python cannot import Pillow, so no image can be read."""


def _pil():
    """PIL's Image and ImageOps modules, or PillowMissing (one line)."""
    try:
        from PIL import Image, ImageOps
    except ImportError:
        raise PillowMissing("reading images needs Pillow, which this Python cannot import "
                            "(pip install pillow)") from None
    return Image, ImageOps


@dataclass(frozen=True)
class LoadedImage:
    """pixels: float32 (H, W, 1 or 3) in [0, 1]; bits: 16 for 16-bit (or deeper) sources, else 8;
    mode: Pillow's mode of the file (e.g. 'RGB', 'L', 'I;16', 'CMYK')."""
    pixels: np.ndarray
    bits: int
    mode: str


# ---------------------------------------------------------------- reading one image

def reason(exc: BaseException, path: Path, max_pixels: int = DEFAULT_MAX_PIXELS) -> str:
    """Why `path` could not be read, in one line of at most 160 characters."""
    try:
        from PIL import Image, UnidentifiedImageError
        bomb, unidentified = Image.DecompressionBombError, UnidentifiedImageError
    except ImportError:
        bomb = unidentified = ()
    if isinstance(exc, SkipFile):
        text = str(exc)
    elif bomb and isinstance(exc, bomb):
        text = f"too large: over max_pixels={max_pixels}"
    elif unidentified and isinstance(exc, unidentified):
        if path.suffix.lower() in (".exr", ".hdr"):
            text = f"{path.suffix[1:].upper()} is not supported; save it as a 16-bit PNG or TIFF"
        else:
            text = "not an image Pillow can read"
    elif isinstance(exc, (OSError, SyntaxError)) and ("truncated" in str(exc) or "broken" in str(exc)
                                                       or isinstance(exc, SyntaxError)):
        text = "truncated or corrupt image"
    elif isinstance(exc, MemoryError):
        text = f"out of memory: {exc}" if str(exc) else "out of memory: the image is too large for this machine"
    elif isinstance(exc, ValueError) and str(exc):  # our own checks say what is wrong in a sentence
        text = str(exc)
    elif isinstance(exc, IsADirectoryError):
        text = "a folder, not an image"
    elif isinstance(exc, (FileNotFoundError, PermissionError)):
        text = exc.strerror or type(exc).__name__
    else:
        text = f"{type(exc).__name__}: {exc}"
    text = " ".join(text.split())  # one line, always
    return text if len(text) <= 160 else text[:157] + "..."


def to_array(im) -> np.ndarray:
    """Loaded PIL image -> float32 (H, W, 1 or 3) in [0, 1]."""
    mode = im.mode
    if mode.startswith("I;16"):
        a = np.asarray(im).astype(np.float32) / 65535.0
    elif mode == "I":  # 16-bit PNGs on some Pillow versions; 32-bit integer TIFFs
        a = np.asarray(im).astype(np.float64)
        a = (a / (65535.0 if a.max(initial=0) <= 65535 else 4294967295.0)).astype(np.float32)
    elif mode == "F":
        a = np.nan_to_num(np.asarray(im, np.float32))
        lo, hi = float(a.min()), float(a.max())
        if lo < 0.0 or hi > 1.0:  # float height in scene units: rescale
            a = (a - lo) / (hi - lo) if hi > lo else np.full_like(a, 0.5)
    elif mode in ("1", "L", "LA", "La"):
        a = _scaled(np.asarray(im if mode == "L" else im.convert("L")), 255.0)
    else:  # RGB, RGBA, RGBX, P, PA, CMYK, YCbCr, LAB, ...: alpha is dropped
        a = _scaled(np.asarray(im if mode == "RGB" else im.convert("RGB")), 255.0)
    if a.ndim == 2:
        a = a[..., None]
    return np.clip(a, 0.0, 1.0, out=a) if a.flags.writeable else np.clip(a, 0.0, 1.0)


def _scaled(values: np.ndarray, top: float) -> np.ndarray:
    """Integer pixels -> float32 in [0, 1] with one float32 array (an 8192 px RGB photo is 0.8 GB)."""
    a = values.astype(np.float32)
    a /= top
    return a


def _bits(mode: str) -> int:
    return 16 if mode.startswith("I") or mode in ("F", "RGB;16", "RGBA;16") else 8


def load_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               min_side: int = MIN_SIDE) -> LoadedImage:
    """One image file -> LoadedImage.

    The pixel count is checked from the header, before anything is decoded: images over
    max_pixels raise PIL.Image.DecompressionBombError or SkipFile; images with a side under
    min_side raise SkipFile; truncated files raise OSError; non-images UnidentifiedImageError;
    no Pillow, PillowMissing. ``reason(exc, path)`` turns any of them into one line.
    """
    Image, ImageOps = _pil()
    old_limit = Image.MAX_IMAGE_PIXELS
    try:
        Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow errors from 2x this, warns from 1x; we check 1x
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            im = Image.open(path)
    finally:
        Image.MAX_IMAGE_PIXELS = old_limit
    with im:
        w, h = im.size
        if w * h > max_pixels:
            raise SkipFile(f"too large: {w}x{h} px is over max_pixels={max_pixels}")
        if min(w, h) < min_side:
            raise SkipFile(f"too small: {w}x{h} px, need at least {min_side} a side")
        low_bytes = _low_byte_rawmode(im)
        im.load()
        mode = im.mode
        if low_bytes is not None:
            return LoadedImage(_deep_colour(path, im, low_bytes, ImageOps), 16, f"{mode};16")
        return LoadedImage(to_array(_upright(im, ImageOps)), _bits(mode), mode)


def _upright(im, ImageOps):
    try:
        return ImageOps.exif_transpose(im)  # phone photos
    except Exception:  # a broken EXIF block is no reason to drop the pixels
        return im


# Pillow has no 16-bit colour mode: it decodes a 16-bit RGB(A) PNG or TIFF through an unpacker that
# keeps each sample's high byte. The unpacker of the other byte order, given the same (unfiltered,
# decompressed) rows, keeps the low bytes instead: a second decode with it restores all 16 bits.
_OTHER_BYTE_ORDER = {"RGB;16B": "RGB;16L", "RGB;16L": "RGB;16B", "RGBA;16B": "RGBA;16L", "RGBA;16L": "RGBA;16B"}


def _tile_rawmode(tile) -> str | None:
    args = tile[3]
    return args if isinstance(args, str) else (args[0] if args and isinstance(args[0], str) else None)


def _with_rawmode(tile, rawmode: str):
    args = rawmode if isinstance(tile[3], str) else (rawmode, *tile[3][1:])
    return tile._replace(args=args) if hasattr(tile, "_replace") else (tile[0], tile[1], tile[2], args)


def _low_byte_rawmode(im) -> str | None:
    """The rawmode that decodes the low bytes of a 16-bit colour image, else None."""
    modes = {_tile_rawmode(t) for t in getattr(im, "tile", None) or ()}
    return _OTHER_BYTE_ORDER.get(modes.pop()) if len(modes) == 1 else None


def _deep_colour(path, high, rawmode: str, ImageOps) -> np.ndarray:
    """(H, W, 3) float32 of a 16-bit colour image: its loaded high bytes and a second decode's low bytes."""
    Image, _ = _pil()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # its size was checked on the first open
        low = Image.open(path)
    with low:
        low.tile = [_with_rawmode(t, rawmode) for t in low.tile]
        low.load()
        hi = np.asarray(_upright(high, ImageOps).convert("RGB"), np.uint16)
        lo = np.asarray(_upright(low, ImageOps).convert("RGB"), np.uint16)
    return ((hi << 8) | lo).astype(np.float32) / 65535.0


def truncation(source: str | os.PathLike | bytes) -> str | None:
    """'truncated or corrupt image' when an image file (a path, or a packed file's bytes) is cut
    short or broken, else None (also for files Pillow cannot read at all, such as EXR, and when
    Pillow is missing: this check is for programs that decoded the file themselves). Blender shows
    a cut-short JPEG with grey where the data ended; a material made of it would be half grey."""
    try:
        Image, _ = _pil()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the caller checked the size; a bomb warning says nothing here
            im = Image.open(io.BytesIO(source) if isinstance(source, bytes) else source)
            with im:
                if im.format == "JPEG":  # decoded at 1/8 scale: every byte is still read, in a fraction of the time
                    im.draft("RGB", (max(1, im.width // 8), max(1, im.height // 8)))
                im.load()
    except PillowMissing:
        return None
    except Exception as exc:
        text = reason(exc, Path("image"))
        return text if text == "truncated or corrupt image" else None
    return None


def read_image(path: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS,
               min_side: int = MIN_SIDE) -> np.ndarray:
    """One image file -> float32 (H, W, C) in [0, 1], C = 1 (grey) or 3 (colour); see load_image."""
    return load_image(path, max_pixels=max_pixels, min_side=min_side).pixels


# ---------------------------------------------------------------- many images

def folder_files(folder: Path) -> list[Path]:
    """The files directly in `folder`, sorted, hidden ones (and macOS '._' forks) left out."""
    return sorted(p for p in Path(folder).iterdir() if p.is_file() and not p.name.startswith("."))


class ProgressBar:
    """A one-line progress bar on a terminal (a line per step elsewhere, e.g. in a log); no tqdm,
    which Blender's Python lacks."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, width: int = 28):
        self.total, self.label, self.width = max(total, 1), label, width
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.started = time.perf_counter()

    def show(self, done: int, name: str = "") -> None:
        fill = int(self.width * done / self.total)
        elapsed = time.perf_counter() - self.started
        text = f"{self.label} [{'#' * fill}{'.' * (self.width - fill)}] {done}/{self.total} {elapsed:5.1f}s {name}"
        if self.tty:
            self.stream.write("\r" + text[:120].ljust(120) + ("\n" if done >= self.total else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()


def run_batch(paths: Iterable[Path], process_one: Callable[[Path], list[Path]], label: str,
              stream: TextIO | None = None) -> tuple[list[Path], list[str]]:
    """Run `process_one` on every path with a progress bar on `stream` (stderr); a file it cannot
    use is skipped with one reason (``reason``), the others go on. Returns (files written, skipped
    as 'name (reason)'). KeyboardInterrupt is not caught. Pillow missing and a full or read-only
    disk (OUTPUT_ERRNOS) stop the batch: every image would fail alike."""
    paths = list(paths)
    bar = ProgressBar(len(paths), label, stream)
    written: list[Path] = []
    skipped: list[str] = []
    bar.show(0)
    for i, path in enumerate(paths):
        try:
            written.extend(process_one(path))
        except PillowMissing:
            raise
        except OSError as exc:
            if exc.errno in OUTPUT_ERRNOS:
                raise
            skipped.append(f"{path.name} ({reason(exc, path)})")
        except Exception as exc:  # Pillow's decoders raise many types: skip the file, say why, go on
            skipped.append(f"{path.name} ({reason(exc, path)})")
        bar.show(i + 1, path.name)
    return written, skipped
