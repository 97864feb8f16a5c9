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

Relief is judged on two axes, each for the translator, the classical maps as shipped
(core.photo.classical_maps.classical_maps) and a flat normal, because the mean angle alone rewards timidity
(a flat map scores well and shows no relief):
* accuracy: the mean angle, and the correlation of the predicted slopes (the height's gradient,
  -n_xy / n_z) with the real ones (slope_correlation; 0 for a flat map, 1 for slopes proportional
  to the truth);
* realism: how far the distribution of predicted slope magnitudes is from the real one
  (slope_realism: the 1-D Wasserstein distance over the sum of both mean magnitudes; 0 = the same
  distribution, 1 = a flat map, 1/3 = twice or half the real strength).
The rule that decides whether a translator ships is ship_decision (docs/photo.md).
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from blender_texgan.core.modelfile import read_model_file
from blender_texgan.core.photo.classical_maps import blur, classical_maps, luminance
from blender_texgan.engine.photo.translate import Translator, estimate_light, translate

from .pbr_sets import load_pbr_sets

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


def slopes(normal: np.ndarray) -> np.ndarray:
    """(H, W, 3) unit normals -> (H, W, 2) slopes of the height they come from (-n_x / n_z, -n_y / n_z);
    n_z is held at 0.1 or more, as the set loader holds it (trainer.pbr_sets)."""
    return -normal[..., :2] / np.maximum(normal[..., 2:3], 0.1)


def slope_correlation(pred: np.ndarray, true: np.ndarray) -> float:
    """Correlation of two (H, W, 3) normal fields' slope vectors (means removed): 1 when the predicted
    slopes are the real ones at any scale, 0 when unrelated or flat, negative for relief upside down."""
    p, t = slopes(pred).reshape(-1, 2).astype(np.float64), slopes(true).reshape(-1, 2).astype(np.float64)
    p, t = p - p.mean(0), t - t.mean(0)
    norm = np.sqrt((p * p).sum() * (t * t).sum())
    return float((p * t).sum() / norm) if norm > 1e-12 else 0.0


REALISM_QUANTILES = (np.arange(256) + 0.5) / 256  # the quantiles whose gaps are averaged


def slope_realism(pred: np.ndarray, true: np.ndarray) -> float:
    """Distance between the distributions of predicted and real slope magnitudes: the 1-D Wasserstein
    distance (mean gap between matching quantiles) over the sum of the two mean magnitudes, so in
    [0, 1]: 0 for the same distribution, 1 for a flat map (or relief on another scale altogether),
    1/3 for relief twice or half as strong as the truth. Bounded, a nearly flat set (marble) cannot
    outweigh the others in a mean over sets."""
    mp, mt = (np.quantile(np.linalg.norm(slopes(n).reshape(-1, 2), axis=1), REALISM_QUANTILES) for n in (pred, true))
    return float(np.abs(mp - mt).mean() / max(mp.mean() + mt.mean(), 1e-6))


def relief_scores(pred: np.ndarray, true: np.ndarray) -> dict[str, float]:
    """Both axes for one (H, W, 3) predicted normal field against the real one."""
    return {"deg": angular_error(pred, true), "slope_corr": slope_correlation(pred, true),
            "realism": slope_realism(pred, true)}


def decode_normal(encoded: np.ndarray) -> np.ndarray:
    """A normal map as stored (0..1) -> unit vectors."""
    n = encoded * 2.0 - 1.0
    return n / (np.linalg.norm(n, axis=-1, keepdims=True) + 1e-8)


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
    """One rendered photo: translator output `maps` (MapSet) against the set `truth` (PbrSet), beside
    the classical maps as shipped, a flat normal and the oracles."""
    flat = np.broadcast_to(np.array([0, 0, 1], np.float32), truth.normal.shape)
    classical = classical_maps(photo, periodic=True)
    sobel, _ = sobel_oracle_normal(photo, truth.normal)
    rough = roughness_baselines(photo, truth.roughness)
    row = {"normal_deg_sobel": sobel,
           "height_err": affine_fit_error(maps["height"][..., 0], truth.height),
           "height_err_luminance": height_oracle(photo, truth.height),
           "rough_mae": float(np.abs(maps["roughness"][..., 0] - truth.roughness).mean()),
           "rough_mae_classical": float(np.abs(classical["roughness"][..., 0] - truth.roughness).mean()),
           "rough_mae_constant": rough["constant"],
           "rough_mae_luminance": rough["luminance"],
           "albedo_mae": float(np.abs(maps["albedo"] - truth.albedo).mean()),
           "albedo_mae_photo": float(np.abs(photo - truth.albedo).mean())}
    for suffix, normal in (("", decode_normal(maps["normal"])), ("_classical", decode_normal(classical["normal"])),
                           ("_flat", flat)):
        scores = relief_scores(normal, truth.normal)
        row["normal_deg" + suffix] = scores["deg"]
        row["slope_corr" + suffix] = scores["slope_corr"]
        row["realism" + suffix] = scores["realism"]
    return row


SHIP_CHECKS = (  # (what is checked, test on a row of means) -- the ship rule of docs/photo.md
    ("angle no worse than flat", lambda r: r["normal_deg"] <= r["normal_deg_flat"]),
    ("slope correlation above classical", lambda r: r["slope_corr"] > r["slope_corr_classical"]),
    ("realism better than classical and flat", lambda r: r["realism"] < min(r["realism_classical"], 1.0)),
)


def mean_row(rows) -> dict[str, float]:
    """Key-wise mean of measure_set rows (an iterable of dicts with the same keys)."""
    rows = list(rows)
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0]}


def ship_decision(fold_means: list[dict], overall: dict) -> tuple[bool, list[str]]:
    """The ship rule: a trained translator becomes the default of photo2mat and Image to Material
    only if every check in SHIP_CHECKS holds on the mean over all held-out sets and on at least two
    thirds of the folds (2 of 3). -> (ships, one line per check)."""
    need = -(-2 * len(fold_means) // 3)
    ships, lines = True, []
    for name, test in SHIP_CHECKS:
        folds = sum(bool(test(r)) for r in fold_means)
        ok = folds >= need and bool(test(overall))
        ships &= ok
        lines.append(f"{'pass' if ok else 'FAIL'}: {name} (folds {folds} of {len(fold_means)}, need {need}; "
                     f"mean of all held-out sets: {'yes' if test(overall) else 'no'})")
    return ships, lines


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
    rows = []
    for photo, true_light in rendered_photos(pbr, device):
        light = estimate_light(translator, photo)
        row = measure_photo(translate(translator, photo, periodic=True, light=light), photo, pbr)
        row["light_deg"] = float(np.degrees(np.arccos(np.clip(np.dot(light, true_light), -1, 1))))
        rows.append(row)
    return mean_row(rows)


def measure_sets(model_path, data: str, names, device: str = "auto", engine: str = "auto") -> dict[str, dict]:
    """Set name -> measure_set row, for a translator model file on the named sets under data."""

    translator = Translator(read_model_file(model_path), engine, device)
    dev = translator.device or "cpu"  # None on the numpy engine
    return {s.name: measure_set(translator, s, dev) for s in load_pbr_sets(data, names)}


def main(argv) -> int:
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
    print()
    print(relief_table(mean_row(rows.values()), f"relief, mean of {len(rows)} set(s)"))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


def relief_table(row: dict, title: str) -> str:
    """Both axes for translator, classical fitted and flat, as a markdown table."""
    lines = [f"| {title} | mean angle (deg) | slope correlation | realism (0 best, flat 1) |", "|---|---|---|---|"]
    for label, suffix in (("translator", ""), ("classical, fitted", "_classical"), ("flat", "_flat")):
        lines.append(f"| {label} | {row['normal_deg' + suffix]:.2f} | {row['slope_corr' + suffix]:.3f} | "
                     f"{row['realism' + suffix]:.3f} |")
    return "\n".join(lines)
