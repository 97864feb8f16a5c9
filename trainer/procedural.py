"""Procedural PBR material families, exactly periodic: any crop may wrap around.

Each generator returns {"albedo": (S,S,3), "height": (S,S,1), "roughness": (S,S,1)} float32 in
[0, 1]; the normal map is derived from height by blender_texgan.core.normals, like at inference.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from blender_texgan.core.maps import complete_map_set

NORMAL_STRENGTH = 6.0  # relief in pixels of a full 0 -> 1 height step; stored in exported models


# ---------------------------------------------------------------- periodic helpers

def periodic_noise(rng: np.random.Generator, size: int, beta: float = 2.0, channels: int = 1) -> np.ndarray:
    """Fractal noise, exactly periodic (filtered white noise in the Fourier domain), std 1, mean 0."""
    f = np.fft.fftfreq(size)
    radius = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    radius[0, 0] = 1.0
    amplitude = radius ** (-beta / 2.0)
    amplitude[0, 0] = 0.0
    out = []
    for _ in range(channels):
        spectrum = np.fft.fft2(rng.standard_normal((size, size))) * amplitude
        n = np.fft.ifft2(spectrum).real
        out.append((n - n.mean()) / (n.std() + 1e-8))
    return np.stack(out, axis=-1).astype(np.float32)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _finish(albedo, height, roughness) -> dict[str, np.ndarray]:
    return {"albedo": np.clip(albedo, 0, 1).astype(np.float32),
            "height": np.clip(height, 0, 1)[..., None].astype(np.float32),
            "roughness": np.clip(roughness, 0, 1)[..., None].astype(np.float32)}


# ---------------------------------------------------------------- families

def bricks(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Running-bond bricks: an even number of courses, every other course shifted half a brick."""
    courses = 2 * int(rng.integers(max(1, size // 96), max(2, size // 48) + 1))
    per_course = max(1, int(round(courses / 2 * rng.uniform(0.8, 1.2))))
    brick_h, brick_w = size / courses, size / per_course
    mortar = rng.uniform(0.06, 0.12) * brick_h
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    row = np.floor(y / brick_h).astype(int)
    xs = (x + (row % 2) * brick_w / 2.0) % size
    col = np.floor(xs / brick_w).astype(int) % per_course
    dy = np.minimum(y - row * brick_h, (row + 1) * brick_h - y)
    dx = np.minimum(xs - col * brick_w, (col + 1) * brick_w - xs)
    edge = np.minimum(dx, dy)
    inside = smoothstep(mortar * 0.5, mortar * 1.5, edge)

    brick_id = row * per_course + col
    n_bricks = courses * per_course
    base = np.array([0.55, 0.22, 0.14]) * rng.uniform(0.8, 1.2, 3)
    tint = base[None, :] * rng.uniform(0.65, 1.25, (n_bricks, 1)) + rng.normal(0, 0.03, (n_bricks, 3))
    fine = periodic_noise(rng, size, beta=1.2)[..., 0]
    coarse = periodic_noise(rng, size, beta=3.0)[..., 0]
    brick_rgb = tint[brick_id] * (1.0 + 0.10 * fine[..., None] + 0.08 * coarse[..., None])
    mortar_rgb = np.array([0.62, 0.60, 0.56]) * (1.0 + 0.08 * fine[..., None])
    albedo = inside[..., None] * brick_rgb + (1 - inside[..., None]) * mortar_rgb

    height = 0.25 + 0.6 * inside + 0.04 * fine + 0.03 * coarse * inside
    roughness = 0.75 + 0.1 * fine - 0.1 * inside * (coarse > 1.0) + 0.12 * (1 - inside)
    return _finish(albedo, height, roughness)


def _torus_distances(size: int, points: np.ndarray) -> np.ndarray:
    """(S, S, N) distances from every pixel to every point on a torus of side `size`."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    dx = np.abs(x[..., None] - points[None, None, :, 0])
    dy = np.abs(y[..., None] - points[None, None, :, 1])
    dx = np.minimum(dx, size - dx)
    dy = np.minimum(dy, size - dy)
    return np.sqrt(dx * dx + dy * dy)


def cobblestones(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Voronoi cobblestones on a torus: domed stones in darker gaps."""
    cell = rng.uniform(24, 40)
    n = max(4, int((size / cell) ** 2))
    points = rng.uniform(0, size, (n, 2)).astype(np.float32)
    dist = _torus_distances(size, points)
    order = np.argsort(dist, axis=-1)
    nearest = order[..., 0]
    f1 = np.take_along_axis(dist, order[..., :1], -1)[..., 0]
    f2 = np.take_along_axis(dist, order[..., 1:2], -1)[..., 0]
    gap = f2 - f1
    inside = smoothstep(1.0, 5.0, gap)
    dome = np.sqrt(np.clip(gap / (cell * 0.6), 0, 1))

    fine = periodic_noise(rng, size, beta=1.0)[..., 0]
    grey = rng.uniform(0.35, 0.6, n)
    hue = np.array([1.0, 0.97, 0.9]) * rng.uniform(0.9, 1.1, 3)
    stone_rgb = grey[nearest][..., None] * hue * (1 + 0.08 * fine[..., None])
    gap_rgb = np.array([0.18, 0.16, 0.13]) * (1 + 0.1 * fine[..., None])
    albedo = inside[..., None] * stone_rgb + (1 - inside[..., None]) * gap_rgb

    height = 0.1 + inside * (0.45 + 0.4 * dome) + 0.03 * fine
    roughness = 0.55 + 0.35 * (1 - inside) + 0.08 * fine
    return _finish(albedo, height, roughness)


def wood_planks(rng: np.random.Generator, size: int) -> dict[str, np.ndarray]:
    """Horizontal planks with warped grain and one butt joint per plank row."""
    rows = int(rng.integers(max(2, size // 64), max(3, size // 32) + 1))
    plank_h = size / rows
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    row = np.floor(y / plank_h).astype(int)
    joint_x = rng.uniform(0, size, rows)
    dxj = np.abs(x - joint_x[row])
    dxj = np.minimum(dxj, size - dxj)
    dy = np.minimum(y - row * plank_h, (row + 1) * plank_h - y)
    inside = smoothstep(0.5, 2.0, np.minimum(dy, dxj))

    warp = periodic_noise(rng, size, beta=3.5)[..., 0]
    fine = periodic_noise(rng, size, beta=1.0)[..., 0]
    freq = int(rng.integers(3, 7))  # grain lines per plank, an integer so it wraps
    grain = 0.5 + 0.5 * np.sin(2 * np.pi * (y / plank_h * freq + 0.6 * warp + row * 0.37))
    grain = grain ** 3
    base = np.array([0.50, 0.32, 0.17]) * rng.uniform(0.8, 1.2, 3)
    plank_tone = rng.uniform(0.75, 1.2, rows)[row]
    wood = base * plank_tone[..., None] * (1 - 0.35 * grain[..., None]) * (1 + 0.05 * fine[..., None])
    albedo = inside[..., None] * wood + (1 - inside[..., None]) * np.array([0.08, 0.06, 0.04])

    height = 0.2 + 0.65 * inside - 0.06 * grain * inside + 0.02 * fine
    roughness = 0.5 + 0.25 * grain + 0.2 * (1 - inside) + 0.05 * fine
    return _finish(albedo, height, roughness)


PRESETS: dict[str, Callable[[np.random.Generator, int], dict[str, np.ndarray]]] = {
    "bricks": bricks,
    "cobblestones": cobblestones,
    "wood_planks": wood_planks,
}


def make_material(preset: str, seed: int, size: int) -> dict[str, np.ndarray]:
    """A full PBR set (albedo, normal, roughness, height) for a preset and seed."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    maps = PRESETS[preset](np.random.default_rng(seed), size)
    return complete_map_set(maps, NORMAL_STRENGTH)
