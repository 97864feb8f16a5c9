"""Fit the classical photo -> maps settings (blender_texgan.core.photo_maps) across PBR sets, and
measure them leave-one-set-out: each set is scored with the settings fitted on the other sets,
never with its own (unlike the per-image oracle baseline in trainer.translator_eval).

    python -m scripts.fit_classical_maps ../shared/data/cc0 --json benchmarks/results/classical_maps.json
"""
from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from blender_texgan.core.normals import normal_from_height
from blender_texgan.core.photo_maps import detail_luminance, luminance
from trainer.pbr_sets import load_pbr_sets
from trainer.translator_eval import affine_fit_error, angular_error, rendered_photos

BLURS = (0.0, 1.0, 2.0, 4.0)
STRENGTHS = tuple(float(s) * sign for sign in (1.0, -1.0) for s in np.geomspace(1.0, 128.0, 15))
STEP = 2  # the grid is searched on every 2nd pixel each way


def normal_errors(photo: np.ndarray, truth) -> np.ndarray:
    """(blurs, strengths) mean angular error of the classical normal on one photo (the slopes of
    normal_from_height, computed once per blur and scaled per strength)."""
    out = np.empty((len(BLURS), len(STRENGTHS)))
    t = truth.normal[::STEP, ::STEP]
    for i, b in enumerate(BLURS):
        detail = detail_luminance(photo, periodic=True, height_blur=b)
        n0 = normal_from_height(detail, 1.0) * 2 - 1  # (-dx, -dy, 1) / norm at strength 1
        slopes = (n0[..., :2] / n0[..., 2:3])[::STEP, ::STEP]
        for j, s in enumerate(STRENGTHS):
            n = np.concatenate([s * slopes, np.ones_like(slopes[..., :1])], axis=-1)
            out[i, j] = angular_error(n / np.linalg.norm(n, axis=-1, keepdims=True), t)
    return out


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("data")
    p.add_argument("--json", default="")
    a = p.parse_args(argv)
    sets = load_pbr_sets(a.data)
    grids, rough_rows, height = {}, {}, {}
    for s in sets:
        photos = rendered_photos(s)
        grids[s.name] = np.mean([normal_errors(ph, s) for ph, _ in photos], axis=0)
        rough_rows[s.name] = [(luminance(ph).ravel()[::17], s.roughness.ravel()[::17]) for ph, _ in photos]
        height[s.name] = np.mean([affine_fit_error(detail_luminance(ph, True), s.height) for ph, _ in photos])
        print(f"{s.name}: flat-to-best {grids[s.name].min():.2f} deg", file=sys.stderr)
    names = sorted(grids)

    def fit(keep: list[str]) -> tuple[int, int, tuple[float, float]]:
        total = sum(grids[n] for n in keep)
        i, j = np.unravel_index(np.argmin(total), total.shape)
        lum = np.concatenate([x for n in keep for x, _ in rough_rows[n]])
        rough = np.concatenate([y for n in keep for _, y in rough_rows[n]])
        b, a = np.polyfit(lum, rough, 1)
        return int(i), int(j), (float(a), float(b))

    rows = {}
    for name in names:
        i, j, (ra, rb) = fit([n for n in names if n != name])
        lum = np.concatenate([x for x, _ in rough_rows[name]])
        rough = np.concatenate([y for _, y in rough_rows[name]])
        rows[name] = {"normal_deg_classical": float(grids[name][i, j]), "blur": BLURS[i], "strength": STRENGTHS[j],
                      "rough_mae_classical": float(np.abs(np.clip(ra + rb * lum, 0, 1) - rough).mean()),
                      "height_err_classical": float(height[name])}
    i, j, rough = fit(names)
    result = {"fitted_on_all": {"blur": BLURS[i], "strength": STRENGTHS[j], "roughness": rough}, "leave_one_out": rows}
    print(json.dumps(result["fitted_on_all"]))
    print(f"leave-one-set-out mean normal error {np.mean([r['normal_deg_classical'] for r in rows.values()]):.2f} deg")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(result, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
