"""The cross-validation table of a GPU window (scripts/gpu_window.sh): each fold measured on the sets it
never saw, both axes of relief for translator, classical fitted and flat, and the ship rule applied.

    python -m scripts.gpu_window_table WORK OUT

WORK holds the runs (fold0..2, all) and eval-translator's fold<k>.json or fold<k>.<set>.json; OUT gets
cv.md, cv.json and the four models as fold0..2.safetensors and all.safetensors (the window's files, with window.log).
"""
from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from trainer.translator_eval import mean_row, relief_table, ship_decision

RUNS = ("fold0", "fold1", "fold2", "all")
COLUMNS = (("normal_deg", "angle"), ("normal_deg_classical", "angle cl."), ("normal_deg_flat", "angle flat"),
           ("slope_corr", "corr"), ("slope_corr_classical", "corr cl."), ("realism", "real"),
           ("realism_classical", "real cl."), ("albedo_mae", "albedo"), ("albedo_mae_photo", "albedo photo"),
           ("rough_mae", "rough"), ("rough_mae_classical", "rough cl."), ("light_deg", "light off"))


def training_summary(run: Path) -> dict:
    """Steps and seconds of a run, as its model file records them ({} values None without one)."""
    from blender_texgan.core.modelfile import read_manifest

    model = run / "model.safetensors"
    training = read_manifest(model).get("training", {}) if model.is_file() else {}
    return {"steps": training.get("steps"), "seconds": training.get("seconds")}


def per_set_table(folds: dict[str, dict]) -> list[str]:
    lines = ["| fold | set | " + " | ".join(label for _, label in COLUMNS) + " |",
             "|---|---|" + "---|" * len(COLUMNS)]
    for fold, rows in folds.items():
        for name, row in rows.items():
            lines.append(f"| {fold} | {name} | " + " | ".join(f"{row.get(k, float('nan')):.3g}" for k, _ in COLUMNS) + " |")
    return lines


def fold_rows(work: Path, k: int) -> dict[str, dict]:
    """Set name -> eval-translator's row, for fold k: from fold<k>.json, or the window's one file per
    set (fold<k>.<set>.json)."""
    rows = {}
    for path in [work / f"fold{k}.json", *sorted(work.glob(f"fold{k}.*.json"))]:
        if path.is_file():
            rows.update(json.loads(path.read_text()))
    return rows


def write_table(work: Path, out: Path) -> dict:
    folds = {f"fold{k}": fold_rows(work, k) for k in range(3)}
    folds = {name: rows for name, rows in folds.items() if rows}
    result = {"training": {r: training_summary(work / r) for r in RUNS}, "folds": folds}
    lines = ["# Translator cross-validation (scripts/gpu_window.sh)", ""]
    lines += [f"- {r}: {s['steps']} steps in {s['seconds']} s" for r, s in result["training"].items()]
    if len(folds) == 3:
        fold_means = [mean_row(rows.values()) for rows in folds.values()]
        overall = mean_row(row for rows in folds.values() for row in rows.values())
        ships, checks = ship_decision(fold_means, overall)
        result.update(fold_means=fold_means, overall=overall, ships=ships, checks=checks)
        lines += ["", relief_table(overall, f"held out, mean of {sum(map(len, folds.values()))} sets"), ""]
        lines += [relief_table(m, f"fold {k}") + "\n" for k, m in enumerate(fold_means)]
        lines += [f"**Ship rule (docs/photo.md): {'SHIPS' if ships else 'does not ship'}**", ""]
        lines += [f"- {c}" for c in checks]
    else:
        lines += ["", f"only {len(folds)} of 3 folds were measured: the ship rule needs all three"]
    lines += ["", *per_set_table(folds)]
    (out / "cv.md").write_text("\n".join(lines) + "\n")
    (out / "cv.json").write_text(json.dumps(result, indent=1))
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("work", type=Path)
    p.add_argument("out", type=Path)
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    for run in RUNS:
        model = a.work / run / "model.safetensors"
        if model.is_file():
            shutil.copyfile(model, a.out / f"{run}.safetensors")
        else:
            print(f"{run}: no model file", file=sys.stderr)
    result = write_table(a.work, a.out)
    print((a.out / "cv.md").read_text())
    return 0 if len(result["folds"]) == 3 else 1


if __name__ == "__main__":
    sys.exit(main())
