"""Infinite materials: tiling and blending at render time, what Blender's shader nodes compute.

The node group (blender/infinite.py) samples a model's exemplar per shading point with Heitz &
Neyret's histogram-preserving blend, so a material has no bake and no repeat. This module holds
both halves that need no Blender:

* ``prepare(exemplar)`` -- once per exemplar, seed-independent: the Gaussianised exemplar (albedo
  PCA-decorrelated first, exactly core.synthesis.tiling_blend.analyse) as two 16-bit images, which become
  image datablocks, and the inverse lookup tables, which become the curves of two Vector Curves
  nodes (one point per table entry, joined by straight lines).
* ``evaluate(prepared, x, y, scale, seed, sharpness)`` -- the numpy reference of the node group:
  the same triangle grid, per-vertex hash (Blender's White Noise Texture, reproduced bit for bit),
  three lookups, variance-preserving blend and table lookup back, in the same order. A Cycles bake
  of the group is compared with it in the tests.

Coordinates are Blender's texture space: u along the exemplar's width, v *up* (rows bottom to top),
so image arrays here are read with ``row = H - 1 - v`` where a numpy array (rows top to bottom) is
meant. Pure numpy: never imports bpy or torch.
"""
from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace

import numpy as np

from .maps import GENERATED_CHANNEL_COUNT, check_exemplar
from .normals import decode_normal, normal_from_height
from .png import encode_png
from .synthesis.tiling_blend import CELL_FRACTION, GAUSS_RANGE, analyse

# Table entries: each channel's inverse lookup table is one curve of a Vector Curves node, a point
# per entry at x = linspace(-GAUSS_RANGE, GAUSS_RANGE, CURVE_POINTS), joined by straight lines
# (vector handles). Blender tabulates a curve at CM_TABLE + 1 = 257 equally spaced x over its range
# and the renderers interpolate that table linearly, so with the points on those x the node computes
# np.interp over the points. A curve node is a small table inside the shader: three channels in one
# node, no image read (five image reads of a table image were a third of the group's render time),
# and never mipmapped on a GPU. 257 entries stay within an 8-bit step of core.synthesis.tiling_blend's
# LUT_SIZE entries (measured on every bundled exemplar: mean at most 0.1/255, max 0.95/255).
CURVE_POINTS = 257
ROW_FACTOR = math.sqrt(3.0) / 2.0   # triangle rows are this fraction of a cell high (equilateral)
CHANNELS = ("albedo_0", "albedo_1", "albedo_2", "height", "roughness")
GAUSS_INTERPOLATION = "Linear"         # Blender's name (Closest, Linear, Cubic) for the Gaussian reads
# Every read stays inside the exemplar (the offsets keep margins, see vertex_offsets), so Extend
# reads what Repeat would; it clamps instead of taking four integer remainders per bilinear read
# (scripts/infinite_profile.py, 384² px: the fastest of four renders 7.0 s of CPU against 7.5 s).
GAUSS_EXTENSION = "EXTEND"
# The images a shading point reads six times are 16-bit PNGs (a smaller .blend than float EXR);
# height, roughness and normal share one RGBA image, as image reads bound the group's render time.
GAUSS_CODE = 6.0                        # Gaussian values g are stored as (g + 6) / 12 in 16 bits
IMAGE_BITS = {"gauss albedo": 16, "relief": 16}


@dataclass(frozen=True)
class InfiniteImages:
    """What the node group reads, all float32 and seed-independent.

    gauss_albedo: (H, W, 3) rows top to bottom, the albedo's three PCA components, Gaussian, encoded
    as (g + GAUSS_CODE) / (2 GAUSS_CODE). relief: (H, W, 4) the Gaussian height and roughness so
    encoded, then the exemplar's tangent-space normal's x and y (OpenGL, from its height at the
    model's normal strength) encoded as in a normal map; z = sqrt(1 - x^2 - y^2). The group blends
    the normals linearly and renormalises. All on 16-bit steps: exactly what the PNG images hold.
    mean: (5,) the Gaussian channels' means. lut: (5, N) each channel's value at the Gaussian values
    curve_grid(N) (the curves' points, N = CURVE_POINTS). pca_mean (3,), pca_basis
    (3, 3): albedo = components @ pca_basis.T + pca_mean (linear values). cell: triangle
    width in exemplar pixels. key: identifies the exemplar (same exemplar, same key).
    """
    gauss_albedo: np.ndarray
    relief: np.ndarray
    mean: np.ndarray
    lut: np.ndarray
    pca_mean: np.ndarray
    pca_basis: np.ndarray
    cell: float
    key: str
    png: dict = field(default_factory=dict, compare=False, repr=False)  # with_png: part -> PNG bytes

    @property
    def shape(self) -> tuple[int, int]:
        """(height, width) of the exemplar in pixels."""
        return self.gauss_albedo.shape[0], self.gauss_albedo.shape[1]

    @property
    def margins(self) -> tuple[float, float]:
        """(x, y) pixels kept free at the exemplar's borders by the offsets (see vertex_offsets)."""
        return self.cell + 1.0, self.cell * ROW_FACTOR + 1.0


def exemplar_key(exemplar: np.ndarray) -> str:
    """A short digest of the exemplar's pixels: a node group is shared by materials with the same key."""
    a = np.ascontiguousarray(np.asarray(exemplar, np.float32))
    return hashlib.sha1(a.tobytes() + str(a.shape).encode()).hexdigest()[:16]


def prepare(exemplar, normal_strength: float = 6.0, lut_size: int = CURVE_POINTS) -> InfiniteImages:
    """Once per exemplar: (H, W, 5) stack in [0, 1] (GENERATED_CHANNELS) and the model's normal
    strength -> InfiniteImages. A ValueError names what is wrong with a bad exemplar."""
    stack = check_exemplar(exemplar, 8, GENERATED_CHANNEL_COUNT)
    a = analyse(linear_albedo(stack), lut_size)
    h, w = stack.shape[:2]
    relief = np.empty((h, w, 4), np.float32)
    relief[..., :2] = encode_gaussian(a.gaussian[..., 3:5])
    relief[..., 2:] = _steps(normal_from_height(stack[..., 3], normal_strength)[..., :2], 16)
    key = exemplar_key(np.concatenate([stack, np.full((1, w, 5), normal_strength, np.float32)]))
    return InfiniteImages(encode_gaussian(a.gaussian[..., :3]), relief, a.mean, a.lut, a.pca_mean, a.pca_basis,
                          float(max(2.0, CELL_FRACTION * min(h, w))), key)


def linear_albedo(stack: np.ndarray) -> np.ndarray:
    """The stack with its albedo (sRGB-encoded) as linear values: the group blends and outputs
    linear albedo, what a shader's Base Color takes, with no conversion per shading point."""
    out = np.array(stack, np.float32)
    out[..., :3] = srgb_to_linear(out[..., :3])
    return out


def _steps(values: np.ndarray, bits: int) -> np.ndarray:
    top = float((1 << bits) - 1)
    return (np.rint(np.clip(values, 0.0, 1.0) * top) / top).astype(np.float32)


def encode_gaussian(g: np.ndarray) -> np.ndarray:
    """Gaussian values -> [0, 1] on 16-bit steps (an error under 1e-4, a tenth of a table entry)."""
    return _steps((np.asarray(g, np.float64) + GAUSS_CODE) / (2 * GAUSS_CODE), 16)


def unit_normal(xy: np.ndarray) -> np.ndarray:
    """Encoded normal x, y (..., 2) -> (..., 3) with z = sqrt(1 - x^2 - y^2)."""
    n = decode_normal(xy).astype(np.float64)
    return np.concatenate([n, np.sqrt(np.maximum(0.0, 1.0 - np.sum(n * n, axis=-1, keepdims=True)))], -1)


def decode_gaussian(c: np.ndarray) -> np.ndarray:
    return np.asarray(c, np.float64) * (2 * GAUSS_CODE) - GAUSS_CODE


def with_png(prepared: InfiniteImages) -> InfiniteImages:
    """The same images with their PNG files encoded (IMAGE_BITS), off the UI thread: Blender then
    only packs or writes the bytes."""
    arrays = {"gauss albedo": prepared.gauss_albedo, "relief": prepared.relief}
    return replace(prepared, png={part: encode_png(arrays[part], bits) for part, bits in IMAGE_BITS.items()})


def curve_grid(points: int = CURVE_POINTS) -> np.ndarray:
    """The x of the tables' curve points: Gaussian values, equally spaced over the table's range."""
    return np.linspace(-GAUSS_RANGE, GAUSS_RANGE, points)


# ---------------------------------------------------------------- Blender's White Noise, bit for bit

_U32 = np.uint32


def _rot(x, k):
    return (x << _U32(k)) | (x >> _U32(32 - k))


def _final(a, b, c):
    """Jenkins' lookup3 final mix, as Blender's hash_uint* use it."""
    c = (c ^ b) - _rot(b, 14)
    a = (a ^ c) - _rot(c, 11)
    b = (b ^ a) - _rot(a, 25)
    c = (c ^ b) - _rot(b, 16)
    a = (a ^ c) - _rot(c, 4)
    b = (b ^ a) - _rot(a, 14)
    c = (c ^ b) - _rot(b, 24)
    return c


def _mix(a, b, c):
    a = (a - c) ^ _rot(c, 4)
    c = c + b
    b = (b - a) ^ _rot(a, 6)
    a = a + c
    c = (c - b) ^ _rot(b, 8)
    b = b + a
    a = (a - c) ^ _rot(c, 16)
    c = c + b
    b = (b - a) ^ _rot(a, 19)
    a = a + c
    c = (c - b) ^ _rot(b, 4)
    b = b + a
    return a, b, c


def _bits(x) -> np.ndarray:
    return (np.asarray(x, np.float32) + np.float32(0.0)).view(_U32)  # +0.0: no negative zero


def _to_unit(h: np.ndarray) -> np.ndarray:
    return h.astype(np.float32) / np.float32(4294967295.0)


def white_noise_color(x, y, z) -> np.ndarray:
    """Blender's White Noise Texture (3D) Color output at float32 (x, y, z): (..., 3) in [0, 1]."""
    kx, ky, kz = np.broadcast_arrays(_bits(x), _bits(y), _bits(z))
    with np.errstate(over="ignore"):
        init3 = _U32(0xDEADBEEF + (3 << 2) + 13)
        first = _final(kx + init3, ky + init3, kz + init3)
        out = [_to_unit(first)]
        for w in (1.0, 2.0):
            init4 = _U32(0xDEADBEEF + (4 << 2) + 13)
            a, b, c = _mix(kx + init4, ky + init4, kz + init4)
            out.append(_to_unit(_final(a + _bits(w), b, c)))
    return np.stack(out, axis=-1)


# ---------------------------------------------------------------- the per-pixel sampler

def sample(image: np.ndarray, u, v, interpolation: str, extension: str = GAUSS_EXTENSION) -> np.ndarray:
    """Blender's Image Texture lookup of an (H, W, C) array (rows top to bottom) at texture
    coordinates (u, v), v up: Closest or Linear; REPEAT wraps, EXTEND clamps."""
    h, w = image.shape[:2]

    def index(i, side):
        return np.mod(i, side) if extension == "REPEAT" else np.clip(i, 0, side - 1)

    u, v = np.asarray(u, np.float64), np.asarray(v, np.float64)
    if interpolation == "Closest":
        return image[h - 1 - index(np.floor(v * h).astype(np.int64), h), index(np.floor(u * w).astype(np.int64), w)]
    fx, fy = u * w - 0.5, v * h - 0.5
    ix, iy = np.floor(fx), np.floor(fy)
    tx, ty = (fx - ix)[..., None], (fy - iy)[..., None]
    ix, iy = ix.astype(np.int64), iy.astype(np.int64)

    def at(dy, dx):
        return image[h - 1 - index(iy + dy, h), index(ix + dx, w)]
    return (1 - ty) * ((1 - tx) * at(0, 0) + tx * at(0, 1)) + ty * ((1 - tx) * at(1, 0) + tx * at(1, 1))


def triangle(px: np.ndarray, py: np.ndarray, cell: float):
    """The triangle grid at exemplar-pixel positions (px, py), y up: per point its three vertices'
    lattice indices (vi, vj), each (..., 3), and barycentric weights (..., 3).

    Vertex (i, j) sits at x = (i + j / 2) cell, y = j cell sqrt(3)/2; a cell splits at fi + fj = 1
    into the lower triangle (i, j), (i+1, j), (i, j+1) and the upper (i+1, j+1), (i+1, j), (i, j+1),
    the same split and weights as core.synthesis.tiling_blend.vertex_reads.

    The three slots are the lattice's three colours: slot k holds the triangle's vertex with
    (i - j) mod 3 == k (every triangle has one of each). So a slot keeps its vertex, and its copy's
    read position, across every edge where its weight is not zero; it changes vertex only on an edge
    where its weight is zero on both sides. A renderer that picks mip levels from screen-space
    derivatives of the read position (EEVEE) then sees no jump where the copy is visible. In
    triangle order instead (the vertex at (i0, j0) or (i0 + 1, j0 + 1) first), a slot changes
    vertex on edges where its copy still counts, and EEVEE drew lines there.
    """
    sj = py / (cell * ROW_FACTOR)
    si = px / cell - 0.5 * sj
    i0, j0 = np.floor(si), np.floor(sj)
    fi, fj = si - i0, sj - j0
    upper = (fi + fj > 1.0).astype(np.float64)
    vi = np.stack([i0 + upper, i0 + 1.0, i0], axis=-1)      # triangle order: colours c, c + 1, c + 2
    vj = np.stack([j0 + upper, j0, j0 + 1.0], axis=-1)      # with c = (i0 - j0) mod 3
    weights = np.stack([np.abs(1.0 - fi - fj), fi + upper * (1.0 - fj - fi), fj + upper * (1.0 - fi - fj)], -1)
    order = np.mod(np.arange(3) + np.mod(j0 - i0, 3.0)[..., None], 3.0).astype(np.int64)  # slot k: colour k
    return tuple(np.take_along_axis(a, order, axis=-1) for a in (vi, vj, weights))


def vertex_offsets(prepared: InfiniteImages, vi, vj, seed: float) -> tuple[np.ndarray, np.ndarray]:
    """Per vertex its exemplar-pixel offset (x, y) from White Noise at (vi + vj/2, vj, seed): whole pixels
    (a copy read at pixel centres is the exemplar itself, not a resampled one), inside the margins,
    so a vertex's whole footprint reads inside the exemplar (non-tiling photos work)."""
    noise = white_noise_color(vi + 0.5 * vj, vj, np.float32(seed))  # hashed at (i + j/2, j), as the group
    out = []
    for k, (side, margin) in enumerate(zip(prepared.shape[::-1], prepared.margins)):
        lo, span = (margin, side - 2 * margin) if side - 2 * margin > 0 else (0.0, float(side))
        out.append(np.floor(lo + noise[..., k].astype(np.float64) * span))
    return out[0], out[1]


def vertex_pixels(prepared: InfiniteImages, vi, vj) -> tuple[np.ndarray, np.ndarray]:
    """The exemplar pixel a vertex's copy is anchored at: its position floored, as in
    core.synthesis.tiling_blend, so that with whole-pixel offsets a copy at pixel centres reads whole pixels."""
    return np.floor((vi + 0.5 * vj) * prepared.cell), np.floor(vj * (prepared.cell * ROW_FACTOR))


def blend_weights(weights: np.ndarray, sharpness: float) -> np.ndarray:
    """Blend sharpness s: weights w^s renormalised to sum 1 (s = 1: Heitz & Neyret's weights;
    larger s: sharper transitions, less blending)."""
    powered = np.power(weights, sharpness)
    return powered / np.sum(powered, axis=-1, keepdims=True)


def gaussian_blend(prepared: InfiniteImages, weights: np.ndarray, reads: list[np.ndarray]) -> np.ndarray:
    """Variance-preserving blend of three (..., 5) Gaussian reads: (sum w_i G_i - mu) / |w| + mu."""
    total = sum(weights[..., k, None] * reads[k] for k in range(3))
    norm = np.sqrt(np.sum(weights * weights, axis=-1, keepdims=True))
    return (total - prepared.mean) / norm + prepared.mean


def table_lookup(prepared: InfiniteImages, gauss: np.ndarray) -> np.ndarray:
    """Gaussian (..., 5) -> exemplar values (..., 5): each channel through its curve (albedo still
    as PCA components), straight lines between the points, level beyond the ends: np.interp, as
    core.synthesis.tiling_blend reads its tables."""
    grid = curve_grid(prepared.lut.shape[1])
    return np.stack([np.interp(gauss[..., c], grid, prepared.lut[c]) for c in range(prepared.lut.shape[0])], -1)


def _copies(prepared: InfiniteImages, x, y, scale: float, seed: float):
    """Per point its three copies: barycentric weights and texture coordinates u, v, each (..., 3)."""
    h, w = prepared.shape
    px, py = np.asarray(x, np.float64) * (w / scale), np.asarray(y, np.float64) * (w / scale)
    vi, vj, weights = triangle(px, py, prepared.cell)
    ox, oy = vertex_offsets(prepared, vi, vj, seed)
    vx, vy = vertex_pixels(prepared, vi, vj)
    return weights, (px[..., None] - vx + ox) / w, (py[..., None] - vy + oy) / h


def blended_gaussian(prepared: InfiniteImages, x, y, scale: float, seed: float, sharpness: float = 1.0,
                     interpolation: str = GAUSS_INTERPOLATION) -> np.ndarray:
    """The group's blended Gaussian values (..., 5) at coordinates (x, y), before the tables."""
    weights, u, v = _copies(prepared, x, y, scale, seed)
    reads = [decode_gaussian(np.concatenate([sample(prepared.gauss_albedo, u[..., k], v[..., k], interpolation),
                                             sample(prepared.relief, u[..., k], v[..., k], interpolation)[..., :2]],
                                            -1)) for k in range(3)]
    return gaussian_blend(prepared, blend_weights(weights, sharpness), reads)


def blended_normal(prepared: InfiniteImages, x, y, scale: float, seed: float, sharpness: float = 1.0) -> np.ndarray:
    """The group's Normal output at (x, y): the three copies' normals (Linear reads) mixed with the
    blend weights through their slopes x, y and renormalised by z -> (..., 3) unit vectors."""
    weights, u, v = _copies(prepared, x, y, scale, seed)
    weights = blend_weights(weights, sharpness)
    xy = sum(weights[..., k, None] * sample(prepared.relief, u[..., k], v[..., k], "Linear")[..., 2:]
             for k in range(3))
    return unit_normal(xy)


def from_gaussian(prepared: InfiniteImages, gauss: np.ndarray) -> np.ndarray:
    """Blended Gaussian values -> (..., 5) albedo (linear), height, roughness in [0, 1]."""
    values = table_lookup(prepared, gauss)
    values[..., :3] = values[..., :3] @ prepared.pca_basis.T.astype(np.float64) + prepared.pca_mean
    return np.clip(values, 0.0, 1.0)


def evaluate(prepared: InfiniteImages, x, y, scale: float, seed: float, sharpness: float = 1.0,
             interpolation: str = GAUSS_INTERPOLATION) -> np.ndarray:
    """The node group at coordinates (x, y) (metres, or whatever the material feeds it) for an
    exemplar `scale` wide: (..., 5) albedo (linear), height, roughness, clipped to [0, 1]."""
    gauss = blended_gaussian(prepared, x, y, scale, seed, sharpness, interpolation)
    return from_gaussian(prepared, gauss)


def srgb_to_linear(c: np.ndarray) -> np.ndarray:
    """sRGB-encoded [0, 1] -> linear, the IEC 61966-2-1 curve (prepare applies it to the albedo)."""
    c = np.asarray(c, np.float64)
    return np.where(c > 0.04045, np.power((np.maximum(c, 0.04045) + 0.055) / 1.055, 2.4), c / 12.92)


def linear_to_srgb(c: np.ndarray) -> np.ndarray:
    c = np.clip(np.asarray(c, np.float64), 0.0, 1.0)
    return np.where(c > 0.0031308, 1.055 * np.power(np.maximum(c, 0.0031308), 1 / 2.4) - 0.055, c * 12.92)


# ---------------------------------------------------------------- where it is the wrong tool

COORDINATE_SYNTHESIS_MODES = ("random", "refined")
STRUCTURED_HINT = ("Tiling and blending ghosts structured materials (bricks, setts, tiles): "
                   "the baked output suits this model better")


def structured_hint(manifest: dict | None) -> str:
    """The panel's hint for models whose own default is coordinate synthesis (joined patches),
    which keeps elements whole; empty for the others (or no model)."""
    block = (manifest or {}).get("exemplar")
    if not isinstance(block, dict):
        return ""
    return STRUCTURED_HINT if block.get("default_mode", "refined") in COORDINATE_SYNTHESIS_MODES else ""
