"""The photo -> maps table for docs/photo.md: the translator's cross-validation (fold JSON files
that scripts/train_translators.sh writes: every set measured by the fold model that never saw it)
beside the classical method fitted leave-one-set-out (scripts/fit_classical_maps.py --json).

    python -m scripts.translator_table benchmarks/results/classical_maps.json benchmarks/results/translator_cv/fold*.json
"""
from __future__ import annotations

import json
import sys

COLUMNS = [
    ("normal, degrees", ("normal_deg", "normal_deg_classical", "normal_deg_flat", "normal_deg_sobel")),
    ("height error (1 = flat)", ("height_err", "height_err_classical", None, "height_err_luminance")),
    ("roughness MAE", ("rough_mae", "rough_mae_classical", "rough_mae_constant", "rough_mae_luminance")),
]


def table(rows: dict[str, dict]) -> str:
    head = "| set | " + " | ".join(f"{title}: translator / classical fitted / flat or constant / classical oracle"
                                   for title, _ in COLUMNS)
    head += " | light off by |\n|---|" + "---|" * (len(COLUMNS) + 1) + "\n"
    lines = []

    def cells(row: dict) -> str:
        out = []
        for _, keys in COLUMNS:
            out.append(" / ".join("–" if k is None else f"{row[k]:.3g}" for k in keys))
        return " | ".join(out) + f" | {row['light_deg']:.0f}°"

    for name in sorted(rows, key=str.lower):
        lines.append(f"| {name} | {cells(rows[name])} |")
    mean = {k: sum(r[k] for r in rows.values()) / len(rows) for k in next(iter(rows.values()))}
    lines.append(f"| **mean of {len(rows)}** | {cells(mean)} |")
    return head + "\n".join(lines) + "\n"


def main(paths: list[str]) -> int:
    with open(paths[0]) as f:
        classical = json.load(f)["leave_one_out"]
    rows: dict[str, dict] = {}
    for path in paths[1:]:
        with open(path) as f:
            rows.update(json.load(f))
    for name, row in rows.items():
        row.update(classical[name])
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
