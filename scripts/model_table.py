"""Print a Markdown table of model files' metrics and training facts (for the README and notes).

    .venv/bin/python scripts/model_table.py                       # the bundled models
    .venv/bin/python scripts/model_table.py runs/*.safetensors    # any model files
"""
from __future__ import annotations

import sys
from pathlib import Path

from blender_texgan.core.modelfile import read_manifest
from blender_texgan.engine.generate import bundled_models
from trainer.metrics import meets_bar


def main(paths: list[str]) -> int:
    files = [Path(p) for p in paths] or list(bundled_models().values())
    print("| model | trained on | architecture | steps | SWD ratio | seam | diversity | grid | meets bar |")
    print("|---|---|---|---|---|---|---|---|---|")
    for path in files:
        m = read_manifest(path)
        metrics, training = m.get("metrics", {}), m.get("training", {})
        cells = [f"{metrics[k]:.2f}" if k in metrics else "-"
                 for k in ("swd_ratio", "seam_ratio", "diversity_ratio", "grid_ratio")]
        source = (m.get("credits") or [training.get("data", "")])[0]
        print(f"| {m['name']} | {source} | {m['architecture']['name']} {m['architecture']['config']['channels']} "
              f"| {training.get('steps', '-')} | {' | '.join(cells)} | {'yes' if meets_bar(metrics) else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
