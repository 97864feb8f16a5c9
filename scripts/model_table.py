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
from trainer.quality import floored


def main(paths: list[str]) -> int:
    files = [Path(p) for p in paths] or list(bundled_models().values())
    print("| model | trained on | default detail | band-pass albedo vs T&B | coarse SWD vs T&B | fine SWD ratio "
          "| seam | diversity | largest copy / side | meets bar |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for path in files:
        m = read_manifest(path)
        metrics, training = m.get("metrics", {}), m.get("training", {})
        base = (m.get("quality") or {}).get("baseline", {})
        versus = [f"{floored(metrics, k) / floored(base, k):.2f}x" if k in metrics and k in base else "-"
                  for k in ("bandpass_albedo", "coarse_swd")]
        cells = [f"{metrics[k]:.2f}" if k in metrics else "-"
                 for k in ("swd_ratio", "seam_ratio", "diversity_ratio", "verbatim_fraction")]
        source = ", ".join(training.get("sets") or []) or training.get("data", "")
        mode = (m.get("exemplar") or {}).get("default_mode", "neural")
        print(f"| {m['name']} | {source} | {mode} | {' | '.join(versus)} | {' | '.join(cells)} "
              f"| {'yes' if meets_bar(metrics) else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
