"""The translator's cross-validation table for docs/photo.md, from the fold JSON files that
scripts/train_translators.sh writes (every set measured by the fold model that never saw it).

    python -m scripts.translator_table runs/cv/fold0.json runs/cv/fold1.json runs/cv/fold2.json
"""
from __future__ import annotations

import json
import sys

COLUMNS = [
    ("normal, degrees", ("normal_deg", "normal_deg_flat", "normal_deg_sobel")),
    ("height error (1 = flat)", ("height_err", None, "height_err_luminance")),
    ("roughness MAE", ("rough_mae", "rough_mae_constant", "rough_mae_luminance")),
]


def table(rows: dict[str, dict]) -> str:
    head = "| set | " + " | ".join(f"{title}: ours / flat or constant / classical oracle" for title, _ in COLUMNS)
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
    rows: dict[str, dict] = {}
    for path in paths:
        with open(path) as f:
            rows.update(json.load(f))
    print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
