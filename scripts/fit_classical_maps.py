"""Fit the classical photo -> maps settings (blender_texgan.core.photo.classical_maps) across PBR sets, and
measure them leave-one-set-out: each set is scored with the settings fitted on the other sets,
never with its own (unlike the per-image oracle baseline in trainer.translator_eval). Every setting
is also judged on the two axes of relief (trainer.translator_eval: accuracy as angle and slope
correlation, realism as the distance between slope-magnitude distributions), and the strongest
setting as accurate as the shipped one and more real is named, if there is one.

    python -m scripts.fit_classical_maps ../shared/data/cc0 --json benchmarks/results/classical_maps.json
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from blender_texgan.core.normals import normal_from_height
from blender_texgan.core.photo.classical_maps import HEIGHT_BLUR, NORMAL_STRENGTH, detail_luminance, luminance
from trainer.pbr_sets import load_pbr_sets
from trainer.translator_eval import affine_fit_error, angular_error, rendered_photos, slope_correlation, slope_realism

BLURS = (0.0, 1.0, 2.0, 4.0)
STRENGTHS = tuple(float(s) * sign for sign in (1.0, -1.0) for s in np.geomspace(1.0, 128.0, 15))
STEP = 2  # the grid is searched on every 2nd pixel each way
ANGLE_SLACK = 0.05  # degrees: a setting this close to the shipped one's mean angle counts as accurate


def normal_errors(photo: np.ndarray, truth) -> np.ndarray:
    """(3, blurs, strengths): mean angular error, slope correlation and realism of the classical
    normal on one photo (the slopes of normal_from_height, computed once per blur and scaled per
    strength). The angle is searched on every STEP-th pixel, the two relief axes on every 2*STEP-th."""
    out = np.empty((3, len(BLURS), len(STRENGTHS)))
    t = truth.normal[::STEP, ::STEP]
    for i, b in enumerate(BLURS):
        detail = detail_luminance(photo, periodic=True, height_blur=b)
        n0 = normal_from_height(detail, 1.0) * 2 - 1  # (-dx, -dy, 1) / norm at strength 1
        slopes = (n0[..., :2] / n0[..., 2:3])[::STEP, ::STEP]
        for j, s in enumerate(STRENGTHS):
            n = np.concatenate([s * slopes, np.ones_like(slopes[..., :1])], axis=-1)
            n /= np.linalg.norm(n, axis=-1, keepdims=True)
            out[0, i, j] = angular_error(n, t)
            out[1, i, j] = slope_correlation(n[::2, ::2], t[::2, ::2])
            out[2, i, j] = slope_realism(n[::2, ::2], t[::2, ::2])
    return out


def relief_summary(grids: dict[str, np.ndarray], shipped: tuple[int, int]) -> dict:
    """Both axes for every setting (means over the sets), the shipped setting's, and the strongest
    setting that is as accurate as the shipped one (mean angle within ANGLE_SLACK degrees, slope
    correlation no lower) and more real (lower realism distance), if there is one."""
    mean = np.mean([g for g in grids.values()], axis=0)  # (3, blurs, strengths)
    i0, j0 = shipped
    base = mean[:, i0, j0]
    ok = (mean[0] <= base[0] + ANGLE_SLACK) & (mean[1] >= base[1]) & (mean[2] < base[2])
    better = None
    if ok.any():
        i, j = np.unravel_index(np.argmin(np.where(ok, mean[2], np.inf)), ok.shape)
        better = _setting(mean, int(i), int(j))
    return {"shipped": _setting(mean, i0, j0), "as_accurate_and_more_real": better,
            "grid": [_setting(mean, i, j) for i in range(len(BLURS)) for j in range(len(STRENGTHS))]}


def _setting(mean: np.ndarray, i: int, j: int) -> dict:
    return {"blur": BLURS[i], "strength": STRENGTHS[j], "deg": float(mean[0, i, j]),
            "slope_corr": float(mean[1, i, j]), "realism": float(mean[2, i, j])}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("data")
    p.add_argument("--json", default="")
    p.add_argument("--max-side", type=int, default=1024)
    a = p.parse_args(argv)
    sets = load_pbr_sets(a.data, max_side=a.max_side)
    grids, rough_rows, height, flat = {}, {}, {}, {}
    for s in sets:
        photos = rendered_photos(s)
        grids[s.name] = np.mean([normal_errors(ph, s) for ph, _ in photos], axis=0)
        rough_rows[s.name] = [(luminance(ph).ravel()[::17], s.roughness.ravel()[::17]) for ph, _ in photos]
        height[s.name] = np.mean([affine_fit_error(detail_luminance(ph, True), s.height) for ph, _ in photos])
        flat[s.name] = angular_error(np.broadcast_to(np.float32([0, 0, 1]), s.normal.shape)[::STEP, ::STEP],
                                     s.normal[::STEP, ::STEP])
        print(f"{s.name}: flat-to-best {grids[s.name][0].min():.2f} deg", file=sys.stderr)
    names = sorted(grids)
    rows = {}
    for name in names:
        i, j, (ra, rb) = fit(grids, rough_rows, [n for n in names if n != name])
        lum = np.concatenate([x for x, _ in rough_rows[name]])
        rough = np.concatenate([y for _, y in rough_rows[name]])
        rows[name] = {"normal_deg_classical": float(grids[name][0, i, j]), "blur": BLURS[i], "strength": STRENGTHS[j],
                      "slope_corr_classical": float(grids[name][1, i, j]),
                      "realism_classical": float(grids[name][2, i, j]), "normal_deg_flat": float(flat[name]),
                      "rough_mae_classical": float(np.abs(np.clip(ra + rb * lum, 0, 1) - rough).mean()),
                      "height_err_classical": float(height[name])}
    i, j, rough = fit(grids, rough_rows, names)
    relief = relief_summary(grids, (BLURS.index(HEIGHT_BLUR), STRENGTHS.index(NORMAL_STRENGTH)))
    relief["flat"] = {"deg": float(np.mean(list(flat.values()))), "slope_corr": 0.0, "realism": 1.0}
    result = {"fitted_on_all": {"blur": BLURS[i], "strength": STRENGTHS[j], "roughness": rough},
              "leave_one_out": rows, "relief": relief}
    print(json.dumps(result["fitted_on_all"]))
    print(f"leave-one-set-out mean normal error {np.mean([r['normal_deg_classical'] for r in rows.values()]):.2f} deg")
    for key in ("flat", "shipped", "as_accurate_and_more_real"):
        print(key, json.dumps(relief[key]))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


def fit(grids, rough_rows, keep: list[str]) -> tuple[int, int, tuple[float, float]]:
    """The blur and strength of least mean angle over the sets `keep`, and roughness's affine fit."""
    total = sum(grids[n][0] for n in keep)
    i, j = np.unravel_index(np.argmin(total), total.shape)
    lum = np.concatenate([x for n in keep for x, _ in rough_rows[n]])
    rough = np.concatenate([y for n in keep for _, y in rough_rows[n]])
    b, a = np.polyfit(lum, rough, 1)
    return int(i), int(j), (float(a), float(b))


if __name__ == "__main__":
    sys.exit(main())
