"""A folder of texture images -> training stacks, robust to what people actually put in folders.

    data = load_folder("textures/")
    data.stacks            # list of (5, H, W) float32 in [0, 1]: albedo(3), height(1), roughness(1)
    data.names             # one display name per stack
    data.periodic          # does the albedo wrap around without a seam? (see is_periodic)
    data.normal_strengths  # per stack: strength fitted to the set's normal map, or None
    data.sources           # per stack: {channel: where it came from}
    data.skipped           # "file (reason)" for every file that could not be used
    data.ignored           # extra images of texture sets (previews, ...) that were left out

Files are grouped into sets by blender_texgan.core.texture_names (Poly Haven, ambientCG, Poliigon and
generic names); an image without a map tag is an albedo-only set of its own, so a folder holding a
single photo works. Per set:

* albedo: required. Grey images become 3 channels; alpha is dropped; CMYK/palette become RGB;
  16-bit images are scaled by 65535.
* roughness: the roughness map, else the G channel of an ARM (AO/roughness/metal) map, else
  1 - gloss, else the constant 0.5.
* height: the height/displacement map, else integrated from the normal map (Frankot-Chellappa,
  see height_from_normal; periodic when the albedo or the normal tiles, else mirrored), else the
  constant 0.5.
* normal_strengths: when the set has a normal map, the strength s for which
  blender_texgan.core.normals.normal_from_height(height, s) best matches it (see
  estimate_normal_strength); in pixels of the returned stack's resolution.
* maps of another size than the albedo are resized to it (bicubic).

Unreadable, truncated, tiny (< 32 px a side) and huge (> max_pixels) images are skipped; a set
whose albedo is skipped is skipped, a bad secondary map falls back as above. All of it is reported
in a single TextureFolderWarning; when nothing at all is usable, DataError is raised.
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from blender_texgan.core.maps import stack_channels
from blender_texgan.core.texture_names import IMAGE_EXTENSIONS, group_texture_sets, is_image_file
from blender_texgan.engine.image_files import DEFAULT_MAX_PIXELS, MIN_SIDE, SkipFile, read_image  # noqa: F401
from blender_texgan.engine.image_files import reason as _reason
from blender_texgan.engine.image_files import to_array as _to_array  # noqa: F401

PERIODIC_THRESHOLD = 0.5
_MAX_SLOPE = 10.0  # normals flatter than this are trusted; steeper ones are clamped (nz >= 0.1)


class DataError(RuntimeError):
    """Nothing usable to train on; str() is one sentence."""


class TextureFolderWarning(UserWarning):
    """Files of a texture folder that were skipped or left out (one warning per load_folder call)."""


@dataclass
class FolderData:
    stacks: list[np.ndarray] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    periodic: list[bool] = field(default_factory=list)
    normal_strengths: list[float | None] = field(default_factory=list)
    sources: list[dict[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.stacks)

    @property
    def normal_strength(self) -> list[float | None]:
        """Alias of normal_strengths."""
        return self.normal_strengths

    @property
    def median_normal_strength(self) -> float | None:
        """Median of the positive fitted strengths (None when there is none)."""
        values = [s for s in self.normal_strengths if s is not None and s > 0]
        return float(np.median(values)) if values else None


# ---------------------------------------------------------------- reading one image
# (blender_texgan.engine.image_files: read_image, the reasons files are skipped, SkipFile)

def _rgb(a: np.ndarray) -> np.ndarray:
    return np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a


def _grey(a: np.ndarray) -> np.ndarray:
    return a if a.shape[2] == 1 else a.mean(axis=2, keepdims=True)


def resize(a: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w, C) float32 -> (height, width, C), bicubic per channel, clipped to [0, 1]."""
    if a.shape[:2] == (height, width):
        return a
    out = [np.asarray(Image.fromarray(np.ascontiguousarray(a[..., c], np.float32))
                      .resize((width, height), Image.Resampling.BICUBIC), np.float32)
           for c in range(a.shape[2])]
    return np.clip(np.stack(out, axis=-1), 0.0, 1.0)


# ---------------------------------------------------------------- normals <-> height

def slopes_from_normal(normal: np.ndarray, *, directx: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Encoded [0, 1] normal map (H, W, 3) -> slopes (d/dx to the right, d/dy towards row 0).

    These are the slopes normal_from_height(height, s) encodes as (-s dh/dx, -s dh/dy, 1): for an
    OpenGL normal n, dx = -n.x / n.z and dy = -n.y / n.z. A DirectX normal's green is flipped first.
    n.z is clamped so that no slope exceeds 10.
    """
    n = np.asarray(normal, np.float32)[..., :3] * 2.0 - 1.0
    nz = np.maximum(n[..., 2], 1.0 / _MAX_SLOPE)
    dy = -n[..., 1] / nz
    return -n[..., 0] / nz, (-dy if directx else dy)


def frankot_chellappa(dx: np.ndarray, dy_up: np.ndarray) -> np.ndarray:
    """The periodic surface whose gradient best fits (dx, dy_up) in least squares; mean 0.

    Frankot & Chellappa (1988): project the gradient field onto integrable fields in the Fourier
    domain, Z = -i (wx P + wy Q) / (wx^2 + wy^2), with the spectral derivative i*w. dx is the slope
    towards +column, dy_up the slope towards row 0 (OpenGL +Y). Units: height in pixels.
    """
    h, w = dx.shape
    wx = (2.0 * np.pi * np.fft.rfftfreq(w))[None, :]
    wy = (-2.0 * np.pi * np.fft.fftfreq(h))[:, None]  # minus: +Y points to lower row indices
    p = np.fft.rfft2(np.asarray(dx, np.float64))
    q = np.fft.rfft2(np.asarray(dy_up, np.float64))
    denom = wx * wx + wy * wy
    denom[0, 0] = 1.0
    z = -1j * (wx * p + wy * q) / denom
    z[0, 0] = 0.0
    return np.fft.irfft2(z, s=(h, w)).astype(np.float32)


def height_from_normal(normal: np.ndarray, *, directx: bool = False, periodic: bool = True) -> np.ndarray:
    """Encoded normal map (H, W, 3) -> height (H, W) float32 normalised to [0, 1].

    periodic=False integrates the mirror-extended slope field instead, so that a normal map that
    does not tile gets no wrap-around artefacts. Either way the mean slope is dropped: periodic
    integration cannot represent it, and in real normal maps it is mostly encoding bias (one CC0
    map here leans by 0.3), which mirroring would turn into a huge tent. Multiply the result by the relief (max - min of
    the raw integral, in pixels) -- or use estimate_normal_strength -- to get the strength back.
    """
    dx, dy = slopes_from_normal(normal, directx=directx)
    h, w = dx.shape
    if not periodic:  # even extension of the height = odd extension of the slope across each axis
        dx, dy = dx - dx.mean(), dy - dy.mean()
        dx = np.block([[dx, -dx[:, ::-1]], [dx[::-1], -dx[::-1, ::-1]]])
        dy = np.block([[dy, dy[:, ::-1]], [-dy[::-1], -dy[::-1, ::-1]]])
    z = frankot_chellappa(dx, dy)[:h, :w]
    lo, hi = float(z.min()), float(z.max())
    if not hi - lo > 1e-6:
        return np.full((h, w), 0.5, np.float32)
    return ((z - lo) / (hi - lo)).astype(np.float32)


def estimate_normal_strength(height: np.ndarray, normal: np.ndarray, *, directx: bool = False) -> float | None:
    """Strength s with normal_from_height(height, s) closest to `normal`; None if height is flat.

    normal_from_height encodes the slopes s * grad(height) (central differences, +Y towards row 0),
    so s is the least-squares fit of the normal's slopes (slopes_from_normal) to grad(height),
    s = sum(g . t) / sum(g . g) over the interior pixels (the border is left out: a map that does
    not tile has no valid wrap-around difference). A negative s means the normal disagrees with
    the height (inverted height, or a DirectX normal read as OpenGL). Noise in the height that the
    normal lacks biases s low.
    """
    hgt = np.asarray(height, np.float64)
    if hgt.ndim == 3:
        hgt = hgt[..., 0]
    gx = 0.5 * (hgt[1:-1, 2:] - hgt[1:-1, :-2])
    gy = 0.5 * (hgt[:-2, 1:-1] - hgt[2:, 1:-1])
    tx, ty = slopes_from_normal(normal, directx=directx)
    tx, ty = tx[1:-1, 1:-1].astype(np.float64), ty[1:-1, 1:-1].astype(np.float64)
    gg = float((gx * gx).sum() + (gy * gy).sum())
    if gg < 1e-12 * gx.size:
        return None
    return float(((gx * tx).sum() + (gy * ty).sum()) / gg)


# ---------------------------------------------------------------- periodicity

def periodicity_score(image: np.ndarray) -> float:
    """How much the wrap-around seam looks like a cut between unrelated rows/columns: 0 .. ~1+.

    Per axis: (seam jump - adjacent-line jump) / (far-apart-line jump - adjacent-line jump), where
    a jump is the mean absolute difference between two lines and "far apart" is the largest over
    shifts of 1/2, 1/3 and 0.29 of the side (several, so that a grid of tiles that divides the side
    does not look like noise). The worse axis is returned. A tileable texture scores about 0, a
    crop of one about 1. Calibrated on the 18 CC0 photo albedos in shared/data/cc0 and the
    procedural presets: whole textures score <= 0.37, crops of them mostly 0.7 - 6 (a few crops of
    tile grids that happen to cut at tile lines score 0 - 0.5, and are close to periodic); hence
    the 0.5 threshold.
    """
    a = np.asarray(image, np.float32)
    if a.ndim == 2:
        a = a[..., None]
    worst = 0.0
    for axis in (0, 1):
        b = np.moveaxis(a, axis, 0)
        n = b.shape[0]
        if n < 4:
            continue
        b = b[:, ::max(1, b.shape[1] // 512)]  # thin the lines, not the direction measured
        adjacent = float(np.abs(b[1:] - b[:-1]).mean())
        seam = float(np.abs(b[0] - b[-1]).mean())
        far = max(float(np.abs(b - np.roll(b, k, axis=0)).mean())
                  for k in {n // 2, n // 3, int(round(n * 0.29))} if 1 < k < n - 1) if n >= 6 else adjacent
        if far <= 0.0:
            continue
        worst = max(worst, (seam - adjacent) / max(far - adjacent, 0.25 * far))
    return worst


def is_periodic(image: np.ndarray, threshold: float = PERIODIC_THRESHOLD) -> bool:
    """True when the image tiles without a visible seam (periodicity_score below threshold).

    Used instead of core.tiling.looks_periodic, which calls crops with strong straight lines
    (bricks, planks, tiles) periodic, and instead of seam_ratio < 1.3, which calls several
    real tileable photo textures (seam ratios 1.3 - 1.45 after JPEG) non-periodic.
    """
    return periodicity_score(image) < threshold


# ---------------------------------------------------------------- one set

def _load_set(files: dict[str, Path], rel, max_pixels: int, problems: list[str]):
    """-> (stack, periodic, normal strength or None, sources). Raises when the albedo is unusable."""
    albedo = _rgb(read_image(files["albedo"], max_pixels=max_pixels))
    h, w = albedo.shape[:2]
    albedo_periodic = is_periodic(albedo)
    sources = {"albedo": rel(files["albedo"])}

    def secondary(map_name: str, channels: int | None, fallback: str) -> np.ndarray | None:
        path = files.get(map_name)
        if path is None:
            return None
        try:
            a = read_image(path, max_pixels=max_pixels)
            if channels == 3 and a.shape[2] != 3:
                raise SkipFile("a grey image; expected colour channels")
            return resize(a, h, w)
        except Exception as exc:
            problems.append(f"{rel(path)} ({_reason(exc, Path(path), max_pixels)}; {fallback})")
            return None

    normal, directx = secondary("normal_gl", 3, "used no normal map"), False
    if normal is None and "normal_dx" in files:
        normal = secondary("normal_dx", 3, "used no normal map")
        directx = normal is not None
    normal_name = rel(files["normal_dx" if directx else "normal_gl"]) if normal is not None else None

    rough = secondary("roughness", 1, "roughness from other maps or 0.5")
    if rough is not None:
        rough, sources["roughness"] = _grey(rough), rel(files["roughness"])
    if rough is None:
        arm = secondary("arm", 3, "roughness from other maps or 0.5")
        if arm is not None:
            rough, sources["roughness"] = arm[..., 1:2], f"{rel(files['arm'])} (green)"
    if rough is None:
        gloss = secondary("gloss", 1, "roughness 0.5")
        if gloss is not None:
            rough, sources["roughness"] = 1.0 - _grey(gloss), f"1 - {rel(files['gloss'])}"
    if rough is None:
        rough, sources["roughness"] = np.full((h, w, 1), 0.5, np.float32), "constant 0.5"

    fallback = "height integrated from the normal map" if normal is not None else "height 0.5"
    height = secondary("height", 1, fallback)
    if height is not None:
        height, sources["height"] = _grey(height), rel(files["height"])
    elif normal is not None:
        normal_periodic = albedo_periodic or is_periodic(normal)
        height = height_from_normal(normal, directx=directx, periodic=normal_periodic)[..., None]
        sources["height"] = f"integrated from {normal_name}" + ("" if normal_periodic else " (mirrored)")
    else:
        height, sources["height"] = np.full((h, w, 1), 0.5, np.float32), "constant 0.5"

    strength = None
    if normal is not None:
        sources["normal"] = normal_name + (" (DirectX)" if directx else "")
        strength = estimate_normal_strength(height[..., 0], normal, directx=directx)
    stack = stack_channels({"albedo": albedo, "height": height.astype(np.float32),
                            "roughness": rough.astype(np.float32)})
    return stack, albedo_periodic, strength, sources


# ---------------------------------------------------------------- the folder

def _list_files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    out = []
    for p in sorted(folder.rglob("*")):
        parts = p.relative_to(folder).parts
        if any(part.startswith(".") for part in parts) or not p.is_file():
            continue  # hidden files, macOS "._x.png" resource forks, .git
        out.append(p)
    return out


def count_texture_sets(folder: str | os.PathLike) -> int:
    """How many texture sets (with an albedo) load_folder would try, from the file names alone (no
    image is read); 0 for a folder that does not exist."""
    folder = Path(folder)
    if not folder.exists():
        return 0
    images = [p for p in _list_files(folder) if is_image_file(p)]
    return sum("albedo" in maps for maps in group_texture_sets(images).values())


def _one_line_list(items: list[str], limit: int) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")


def load_folder(folder: str | os.PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> FolderData:
    """Every usable texture set under `folder` (searched recursively; a single file works too).

    Warns once (TextureFolderWarning) listing every skipped or left-out file; raises DataError (one
    sentence) when nothing is usable.
    """
    folder = Path(folder)
    if not folder.exists():
        raise DataError(f"Data folder '{folder}' does not exist.")
    root = folder.parent if folder.is_file() else folder

    def rel(p) -> str:
        try:
            return Path(p).relative_to(root).as_posix()
        except ValueError:
            return str(p)

    files = _list_files(folder)
    images = [p for p in files if is_image_file(p)]
    if not images:
        kinds = ", ".join(sorted({e[1:].upper() for e in IMAGE_EXTENSIONS} - {"JPEG", "TIFF"}))
        raise DataError(f"No usable textures in '{folder}': it holds no image files ({kinds}).")

    sets = group_texture_sets(images)
    out = FolderData()
    used: set[Path] = set()
    keys = []
    for key, maps in sets.items():
        used.update(Path(p) for p in maps.values())
        if "albedo" not in maps:
            names = ", ".join(rel(p) for p in sorted(maps.values(), key=str))
            out.skipped.append(f"{names} (no albedo/colour map in set '{os.path.basename(key)}')")
            continue
        problems: list[str] = []
        try:
            stack, periodic, strength, sources = _load_set(maps, rel, max_pixels, problems)
        except Exception as exc:
            out.skipped.append(f"{rel(maps['albedo'])} ({_reason(exc, Path(maps['albedo']), max_pixels)})")
            out.skipped.extend(problems)
            continue
        out.skipped.extend(problems)
        out.stacks.append(stack)
        out.periodic.append(bool(periodic))
        out.normal_strengths.append(strength)
        out.sources.append(sources)
        keys.append(key)
    out.ignored = [f"{rel(p)} (extra file of a texture set)" for p in images if p not in used]

    short = [os.path.basename(k) for k in keys]
    out.names = [s if short.count(s) == 1 else rel(k) for s, k in zip(short, keys)]

    _report(folder, out)
    return out


def _report(folder: Path, out: FolderData) -> None:
    """Nothing usable: one DataError sentence. Anything skipped or left out: one warning."""
    if not out.stacks:
        raise DataError(
            f"No usable textures in '{folder}': all {len(out.skipped)} image file(s) or set(s) were "
            f"skipped ({_one_line_list(out.skipped, 3)}).")
    if out.skipped or out.ignored:
        parts = []
        if out.skipped:
            parts.append(f"skipped {len(out.skipped)}: {'; '.join(out.skipped)}")
        if out.ignored:
            parts.append(f"left out {len(out.ignored)}: {'; '.join(out.ignored)}")
        warnings.warn(f"Texture folder '{folder}': " + " | ".join(parts), TextureFolderWarning, stacklevel=3)
