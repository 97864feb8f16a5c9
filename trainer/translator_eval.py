"""Measuring translators (photo -> maps) on PBR sets, beside the classical baselines.

Per set, the photo is rendered under the four fixed lights (trainer.shading.fixed_lights), and for
each photo we compare against the set's real maps:
* normal: mean angular error in degrees over all pixels. Baselines: a flat normal, and luminance
  as height (Sobel gradients) with blur, strength and sign chosen per image by an oracle that
  sees the true normal map (as a user tunes Materialize or CrazyBump by eye);
* height: RMS error after the best affine fit (a*h + b) of the prediction to the truth, divided by
  the truth's standard deviation (1.0 = no better than flat). Baseline: blurred luminance, oracle blur;
* roughness: mean absolute error. Baselines: the set's own median roughness as a constant (an
  oracle), and luminance with the best affine fit per set (an oracle).
"""
from __future__ import annotations

import numpy as np

from blender_texgan.core.photo_maps import blur, luminance

SOBEL_BLURS = (0.0, 1.0, 2.0, 4.0, 8.0)
SOBEL_STRENGTHS = tuple(float(s) for s in np.geomspace(1.0, 512.0, 28))  # relief of a 0 -> 1 step, pixels


def angular_error(pred: np.ndarray, true: np.ndarray) -> float:
    """Mean angle in degrees between two (H, W, 3) fields of unit vectors."""
    cos = np.clip((pred * true).sum(-1), -1.0, 1.0)
    return float(np.degrees(np.arccos(cos)).mean())


def _normals_from_gradient(dx: np.ndarray, dy_up: np.ndarray, strength: float) -> np.ndarray:
    n = np.stack([-strength * dx, -strength * dy_up, np.ones_like(dx)], axis=-1)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


def sobel_oracle_normal(photo: np.ndarray, true_normal: np.ndarray) -> tuple[float, dict]:
    """Luminance as height -> normals; the blur, strength and sign with the least angular error
    (searched on every 4th pixel each way, then measured on all)."""
    lum = luminance(photo)
    flat = np.broadcast_to(np.array([0, 0, 1], np.float32), true_normal.shape)
    best = (angular_error(flat[::4, ::4], true_normal[::4, ::4]), None)
    for sigma in SOBEL_BLURS:
        h = blur(lum, sigma, periodic=True)
        # Sobel: central differences smoothed across; +Y (dy_up) towards row 0.
        sm_x = (np.roll(h, 1, 0) + 2 * h + np.roll(h, -1, 0)) / 4
        sm_y = (np.roll(h, 1, 1) + 2 * h + np.roll(h, -1, 1)) / 4
        dx = (np.roll(sm_x, -1, 1) - np.roll(sm_x, 1, 1)) * 0.5
        dy = (np.roll(sm_y, 1, 0) - np.roll(sm_y, -1, 0)) * 0.5
        for strength in [sign * s for sign in (1.0, -1.0) for s in SOBEL_STRENGTHS]:
            err = angular_error(_normals_from_gradient(dx[::4, ::4], dy[::4, ::4], strength), true_normal[::4, ::4])
            if err < best[0]:
                best = (err, (sigma, strength, dx, dy))
    if best[1] is None:
        return angular_error(flat, true_normal), {"blur": None, "strength": 0.0}
    sigma, strength, dx, dy = best[1]
    return angular_error(_normals_from_gradient(dx, dy, strength), true_normal), {"blur": sigma, "strength": strength}


def affine_fit_error(pred: np.ndarray, true: np.ndarray) -> float:
    """RMS of (a*pred + b - true) at the best a, b, over std(true)."""
    p, t = pred.ravel().astype(np.float64), true.ravel().astype(np.float64)
    A = np.stack([p, np.ones_like(p)], 1)
    coef, *_ = np.linalg.lstsq(A, t, rcond=None)
    return float(np.sqrt(np.mean((A @ coef - t) ** 2)) / max(t.std(), 1e-6))


def height_oracle(photo: np.ndarray, true_height: np.ndarray) -> float:
    lum = luminance(photo)
    return min(affine_fit_error(blur(lum, b, periodic=True), true_height) for b in SOBEL_BLURS)


def roughness_baselines(photo: np.ndarray, true_rough: np.ndarray) -> dict[str, float]:
    lum = luminance(photo).ravel().astype(np.float64)
    t = true_rough.ravel().astype(np.float64)
    A = np.stack([lum, np.ones_like(lum)], 1)
    coef, *_ = np.linalg.lstsq(A, t, rcond=None)
    return {"constant": float(np.abs(t - np.median(t)).mean()),
            "luminance": float(np.abs(np.clip(A @ coef, 0, 1) - t).mean())}


def measure_photo(maps: dict, photo: np.ndarray, truth) -> dict[str, float]:
    """One rendered photo: translator output `maps` (MapSet) against the set `truth` (PbrSet)."""
    pred_n = maps["normal"] * 2.0 - 1.0
    pred_n /= np.linalg.norm(pred_n, axis=-1, keepdims=True) + 1e-8
    flat = np.broadcast_to(np.array([0, 0, 1], np.float32), truth.normal.shape)
    sobel, _ = sobel_oracle_normal(photo, truth.normal)
    rough = roughness_baselines(photo, truth.roughness)
    return {
        "normal_deg": angular_error(pred_n, truth.normal),
        "normal_deg_flat": angular_error(flat, truth.normal),
        "normal_deg_sobel": sobel,
        "height_err": affine_fit_error(maps["height"][..., 0], truth.height),
        "height_err_luminance": height_oracle(photo, truth.height),
        "rough_mae": float(np.abs(maps["roughness"][..., 0] - truth.roughness).mean()),
        "rough_mae_constant": rough["constant"],
        "rough_mae_luminance": rough["luminance"],
        "albedo_mae": float(np.abs(maps["albedo"] - truth.albedo).mean()),
        "albedo_mae_photo": float(np.abs(photo - truth.albedo).mean()),
    }


def rendered_photos(pbr, device="cpu") -> list[tuple[np.ndarray, np.ndarray]]:
    """The set rendered under the four fixed lights: (photo (H, W, 3) sRGB, light (3,)) pairs."""
    import torch

    from .shading import fixed_lights, shade

    def t(a):
        a = a if a.ndim == 3 else a[..., None]
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float().to(device)

    out = []
    for light in fixed_lights(device):
        img = shade(t(pbr.albedo), t(pbr.normal), t(pbr.ao), t(pbr.roughness), **light)
        out.append((img[0].permute(1, 2, 0).cpu().numpy(), light["light"][0].cpu().numpy()))
    return out


def measure_set(translator, pbr, device="cpu") -> dict[str, float]:
    """Mean of measure_photo over the set's four renders, each translated with the light the
    translator estimates (as a user gets it); light_deg: how far that estimate was off."""
    from blender_texgan.engine.translate import estimate_light, translate

    rows = []
    for photo, true_light in rendered_photos(pbr, device):
        light = estimate_light(translator, photo)
        row = measure_photo(translate(translator, photo, periodic=True, light=light), photo, pbr)
        row["light_deg"] = float(np.degrees(np.arccos(np.clip(np.dot(light, true_light), -1, 1))))
        rows.append(row)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def measure_sets(model_path, data: str, names, device: str = "auto", engine: str = "auto") -> dict[str, dict]:
    """Set name -> measure_set row, for a translator model file on the named sets under data."""
    from blender_texgan.core.modelfile import read_model_file
    from blender_texgan.engine.translate import Translator

    from .pbr_sets import load_pbr_sets

    translator = Translator(read_model_file(model_path), engine, device)
    dev = translator.device or "cpu"  # None on the numpy engine
    return {s.name: measure_set(translator, s, dev) for s in load_pbr_sets(data, names)}


def main(argv) -> int:
    import argparse
    import json

    p = argparse.ArgumentParser(prog="python -m trainer eval-translator",
                                description="measure a translator on PBR sets beside the classical baselines")
    p.add_argument("model")
    p.add_argument("--data", required=True)
    p.add_argument("--sets", default="", help="comma-separated set names (default: every set under --data)")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", type=str, default="", help="also write the rows to this JSON file")
    a = p.parse_args(argv)
    rows = measure_sets(a.model, a.data, [s for s in a.sets.split(",") if s] or None, a.device)
    keys = list(next(iter(rows.values())))
    print("set".ljust(22) + " ".join(k[:20].rjust(20) for k in keys))
    for name, row in rows.items():
        print(name.ljust(22) + " ".join(f"{row[k]:20.4f}" for k in keys))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0
