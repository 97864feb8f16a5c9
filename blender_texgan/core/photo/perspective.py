"""Straighten a photo taken at an angle: lines that converge (brick columns of a wall shot from
below, paving shot from standing height) come out parallel, so a tileable texture made from the
photo does not show a V where leaning columns meet at the wrap.

    straight, found = straighten(photo, luminance(photo))   # found: None when the photo had no clear perspective

Found from the photo's own straight edges. Edge pixels are sorted into a near-vertical and a
near-horizontal family; in each, the edge's tilt is fitted as a linear function of the position
across the family (tilt = a + b * offset). Lines through one vanishing point tilt in proportion to
their offset from it, so a clear slope b gives that family's vanishing point. The homography

    x' - c = (x - c) / w,   w = 1 + g . (x - c)

fixes the centre c and sends the line w = 0, through the vanishing point(s), to infinity: lines
through a vanishing point come out parallel to the direction from the centre to it (so the
central column keeps its own slant: a slanted pattern is not sheared upright), with the scale at
the centre unchanged. The result is the largest rectangle of the photo's proportions inside the
straightened photo, enlarged to the photo's size. The
linear fit neglects how a line's tilt changes along it, so the estimate is refined: the photo
straightened so far is looked at again, up to ROUNDS times, and what is left is added (homographies
of this form compose by adding their g).

A photo is left as it is when neither family has straight, consistent edges (gravel, grass,
bark) or when straightening would keep under MIN_AREA of it.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .upscale import box_shrink

ANALYSIS_SIDE = 512     # edges are found on the photo shrunk to about this side
FAMILY_SPREAD = 0.5     # a family holds edges within atan(0.5) = 27 degrees of its axis
MIN_CONVERGENCE = 0.06  # radians of tilt change across the photo below which lines count as parallel
MAX_RESIDUAL = 0.12     # radians: spread of tilts about the fit above which edges are not straight lines
MIN_AREA = 0.45         # share of the photo the straightened rectangle must keep
WARP_ROWS = 256         # output rows resampled at a time
ROUNDS = 3              # finding the perspective again on the straightened photo corrects the first estimate
# A plane thinner than this (a 40 x 5000 strip shrunk to ANALYSIS_SIDE long is 4 px wide) has no
# room for the edge filter's border, let alone for lines converging across it: nothing is found.
MIN_PLANE_SIDE = 16


@dataclass(frozen=True)
class Perspective:
    """What was found: the homography's g (per photo pixel), the kept rectangle (x0, y0, x1, y1) in
    straightened pixels relative to the centre, and how many rounds of finding it took."""
    g: tuple[float, float]
    box: tuple[int, int, int, int]
    rounds: int

    @property
    def vanishing_point(self) -> tuple[float, float]:
        """The point of the vanishing line nearest the photo's centre, relative to it (x right, y
        down): for one family of converging lines, where they meet."""
        g = np.asarray(self.g)
        return tuple(-g / (g @ g))


def _edges(lum: np.ndarray):
    """Gradients of a lightly smoothed plane, and the strongest fifth of its edge pixels."""
    sm = (np.roll(lum, 1, 0) + 2 * lum + np.roll(lum, -1, 0)) / 4
    sm = (np.roll(sm, 1, 1) + 2 * sm + np.roll(sm, -1, 1)) / 4
    gx = (np.roll(sm, -1, 1) - np.roll(sm, 1, 1))[2:-2, 2:-2] / 2
    gy = (np.roll(sm, -1, 0) - np.roll(sm, 1, 0))[2:-2, 2:-2] / 2
    m2 = gx * gx + gy * gy
    strong = (m2 >= np.quantile(m2, 0.8)) & (m2 > 1e-12)
    return gx, gy, m2, strong


def _family_fit(tilt, offset, weight):
    """Weighted least squares tilt = a + b * offset -> (a, b, residual spread in radians)."""
    sw = weight.sum()
    if sw <= 0 or len(tilt) < 200:
        return None
    A = np.stack([np.ones_like(offset), offset], 1) * np.sqrt(weight)[:, None]
    coef, *_ = np.linalg.lstsq(A, tilt * np.sqrt(weight), rcond=None)
    resid = tilt - coef[0] - coef[1] * offset
    return float(coef[0]), float(coef[1]), float(np.sqrt((weight * np.arctan(resid) ** 2).sum() / sw))


def vanishing_points(lum: np.ndarray) -> tuple[tuple[float, float] | None, tuple[float, float] | None]:
    """(vertical family's vanishing point, horizontal family's) of a (H, W) plane, in its pixels
    relative to its centre (x right, y down); None where the family's lines are parallel or not lines,
    and for both on a plane too thin to measure (under MIN_PLANE_SIDE a side)."""
    if min(lum.shape) < MIN_PLANE_SIDE:
        return None, None
    gx, gy, m2, strong = _edges(lum)
    h, w = gx.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    xs, ys = xs - (w - 1) / 2, ys - (h - 1) / 2
    found = []
    for along, across, pos_across, extent in ((gx, gy, xs, w), (gy, gx, ys, h)):
        # Vertical family: gradient near horizontal, tilt dx/dy = -gy/gx, offset x; and vice versa.
        sel = strong & (np.abs(across) <= FAMILY_SPREAD * np.abs(along))
        fit = _family_fit(-across[sel] / along[sel], pos_across[sel], m2[sel])
        if fit is None or abs(fit[1]) * extent < MIN_CONVERGENCE or fit[2] > MAX_RESIDUAL:
            found.append(None)
            continue
        # Lines through (u0, v0) tilt by (u - u0) / (v - v0), about (u - u0) / -v0 near the centre:
        # a first estimate (it neglects how the tilt changes along the lines; straighten's later
        # rounds take up the rest).
        a, b = fit[0], fit[1]
        found.append((-a / b, -1.0 / b))  # (across, along)
    vertical = None if found[0] is None else (found[0][0], found[0][1])
    horizontal = None if found[1] is None else (found[1][1], found[1][0])
    return vertical, horizontal


def homography_g(vertical, horizontal) -> tuple[float, float] | None:
    """g with 1 + g . v = 0 at each vanishing point v (relative to the centre): with one point, g
    along it; with two, the line through both; None when that is degenerate."""
    points = [np.asarray(p, np.float64) for p in (vertical, horizontal) if p is not None]
    if not points:
        return None
    if len(points) == 2:
        A = np.stack(points)
        if abs(np.linalg.det(A)) > 1e-6 * np.abs(A).max() ** 2:
            return tuple(np.linalg.solve(A, -np.ones(2)))
        points = [max(points, key=lambda p: -np.hypot(*p))]  # the nearer, stronger convergence
    v = points[0]
    return tuple(-v / (v @ v))


def _warp(image: np.ndarray, g, box, out_shape: tuple[int, int] | None = None) -> np.ndarray:
    """Sample the straightened photo on the box (straightened pixels relative to the centre),
    bilinear: one sample per pixel of the box, or out_shape (rows, columns) samples spread over it.
    Runs in bands of WARP_ROWS rows, so a large photo needs little memory beyond its output."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    rows, cols = out_shape or (y1 - y0, x1 - x0)
    img = image if image.ndim == 3 else image[..., None]
    out = np.empty((rows, cols, img.shape[2]), image.dtype)
    xs = np.linspace(x0, x1 - 1, cols)[None, :]
    ys = np.linspace(y0, y1 - 1, rows)
    for start in range(0, rows, WARP_ROWS):
        yy = ys[start:start + WARP_ROWS, None]
        ws = 1.0 / (1.0 - g[0] * xs - g[1] * yy)
        sx, sy = xs * ws + (w - 1) / 2, yy * ws + (h - 1) / 2
        ix = np.clip(np.floor(sx).astype(np.int64), 0, w - 2)
        iy = np.clip(np.floor(sy).astype(np.int64), 0, h - 2)
        fx = np.clip(sx - ix, 0, 1)[..., None].astype(np.float32)
        fy = np.clip(sy - iy, 0, 1)[..., None].astype(np.float32)
        out[start:start + WARP_ROWS] = ((img[iy, ix] * (1 - fx) + img[iy, ix + 1] * fx) * (1 - fy)
                                        + (img[iy + 1, ix] * (1 - fx) + img[iy + 1, ix + 1] * fx) * fy)
    return out if image.ndim == 3 else out[..., 0]


def kept_box(shape: tuple[int, int], g, min_area: float = MIN_AREA) -> tuple[int, int, int, int] | None:
    """The largest centred-ish rectangle inside the straightened photo: the homography maps the
    photo's border to a convex quadrilateral; the box takes the inner of each pair of corners."""
    h, w = shape
    corners = np.array([[-(w - 1) / 2, -(h - 1) / 2], [(w - 1) / 2, -(h - 1) / 2],
                        [-(w - 1) / 2, (h - 1) / 2], [(w - 1) / 2, (h - 1) / 2]])
    wc = 1.0 + corners @ np.asarray(g)
    if (wc <= 0.05).any():
        return None  # the horizon crosses the photo
    m = corners / wc[:, None]
    x0, x1 = max(m[0, 0], m[2, 0]), min(m[1, 0], m[3, 0])
    y0, y1 = max(m[0, 1], m[1, 1]), min(m[2, 1], m[3, 1])
    box = (int(np.ceil(x0)), int(np.ceil(y0)), int(np.floor(x1)) + 1, int(np.floor(y1)) + 1)
    if (box[2] - box[0]) * (box[3] - box[1]) < min_area * h * w:
        return None
    return box


def with_aspect(box: tuple[int, int, int, int], aspect: float) -> tuple[int, int, int, int]:
    """The box cut down to width / height = aspect (the photo's own: a texture's period is fitted
    to a square later, and a stretched one would change the shapes in it), as near the centre as
    the box allows (the far side of a straightened photo is its most enlarged, softest part)."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    if w > aspect * h:
        x0, x1 = _nearest_centre(x0, x1, int(round(aspect * h)))
    else:
        y0, y1 = _nearest_centre(y0, y1, int(round(w / aspect)))
    return x0, y0, x1, y1


def _nearest_centre(lo: int, hi: int, length: int) -> tuple[int, int]:
    start = min(max(-(length // 2), lo), hi - length)
    return start, start + length


def straighten(image: np.ndarray, lum: np.ndarray) -> tuple[np.ndarray, Perspective | None]:
    """(H, W, C) or (H, W) float image and its (H, W) luminance -> (straightened image, what was
    found), or (image, None) when nothing clear was found. The straightened image has the photo's
    size: the kept box is enlarged to it (a photo's pixel count is what the methods after expect,
    and its centre is then at about the scale the far side was shot at)."""
    factor = max(1, max(lum.shape) // ANALYSIS_SIDE)
    small = (box_shrink(lum[..., None], factor)[..., 0] if factor > 1 else lum).astype(np.float64)
    g, rounds = np.zeros(2), 0
    for rounds in range(1, ROUNDS + 1):
        # Later rounds look at the photo straightened so far (a box centred on the homography's
        # centre) and add what is left: homographies of this form compose by adding their g.
        box = None if rounds == 1 else _centred_box(small.shape, tuple(g))
        if rounds > 1 and box is None:
            rounds -= 1
            break
        step = homography_g(*vanishing_points(small if box is None else _warp(small, tuple(g), box)))
        if step is None:
            rounds -= 1
            break
        g = g + np.asarray(step)
    if rounds == 0:
        return image, None
    g_photo = (float(g[0]) / factor, float(g[1]) / factor)
    box = kept_box(image.shape[:2], g_photo)
    if box is None:
        return image, None
    box = with_aspect(box, image.shape[1] / image.shape[0])
    return _warp(image, g_photo, box, image.shape[:2]), Perspective(g_photo, box, rounds)


def _centred_box(shape: tuple[int, int], g) -> tuple[int, int, int, int] | None:
    """The largest box centred on the homography's centre inside the straightened plane."""
    box = kept_box(shape, g, min_area=0.0)
    if box is None:
        return None
    half_w, half_h = min(-box[0], box[2]), min(-box[1], box[3])
    return (-half_w, -half_h, half_w, half_h)
