"""The table in docs/quality.md, docs/sheets/<model>.jpg and docs/ablation/<model>.jpg from the bundled models.

The table reads what `trainer export` measured (each mode and tiling and blending on the same held-out
crops, in one run, stored in the manifest). The pictures are made here from each model's own exemplar:

* sheets: exemplar | 4 samples (the model's default mode) | one tiled 2x2 at half scale | tiling and
  blending; rows albedo, normal, height, roughness; all at 1:1 except the tiled column.
* ablation: one albedo row per model: exemplar | neural only | refinement from a random start |
  neural + refinement | tiling and blending.

    .venv/bin/python scripts/quality_docs.py [MODEL ...]      (pictures of the MODELs, or of all; the table of all)
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from blender_texgan.core.maps import stack_channels
from blender_texgan.core.modelfile import read_model_file
from blender_texgan.engine.generate import GenerationRequest, bundled_models, generate
from scripts.pictures import png_to_jpeg, write_jpeg
from trainer.quality import baseline_samples, closeup_columns, closeup_rows, contact_sheet

ROOT = Path(__file__).resolve().parent.parent

DOCS = ROOT / "docs"
SIDE = 256
COLUMNS = ("neural", "random", "refined")
METRICS = (("bandpass_albedo", "band-pass albedo"), ("bandpass_height", "band-pass height"),
           ("coarse_swd", "coarse SWD"), ("swd_ratio", "fine SWD ratio"), ("seam_ratio", "seam"),
           ("diversity_ratio", "diversity"), ("verbatim_fraction", "largest copy / side"))


def sample(name: str, seed: int, mode: str) -> np.ndarray:
    maps, _ = generate(GenerationRequest(name, SIDE, seed, engine="numpy", mode=mode))
    return stack_channels({k: maps[k] for k in ("albedo", "height", "roughness")})


def pictures(name: str) -> None:
    model = read_model_file(bundled_models()[name])
    exemplar = np.moveaxis(model.exemplar, -1, 0)
    strength = model.manifest["exemplar"]["normal_strength"]
    mode = model.manifest["exemplar"].get("default_mode", "refined")
    samples = np.stack([sample(name, seed, mode) for seed in range(4)])
    base = baseline_samples(exemplar, SIDE, 1, 0)[0][0]
    closeup = closeup_rows(closeup_columns(bundled_models()[name], model.exemplar, strength))
    png_to_jpeg(contact_sheet(DOCS / "sheets" / f"{name}.png", exemplar, samples, strength, baseline=base,
                              side=SIDE, closeup=closeup))
    row = [exemplar[:3, :SIDE, :SIDE]] + [sample(name, 0, m)[:3] for m in COLUMNS] + [base[:3]]
    gap = np.ones((3, SIDE, 4), np.float32)
    cells = [c for image in row for c in (image, gap)][:-1]
    write_jpeg(DOCS / "ablation" / f"{name}.jpg", np.moveaxis(np.concatenate(cells, axis=2), 0, -1))


def table(names: list[str]) -> str:
    """The ablation as Markdown: per model, every mode, tiling and blending, and real vs real (two
    held-out sets of the photo: the noise floor of each structure measure), as measured at export."""
    labels = {"neural": "neural only", "random": "random start", "refined": "neural + refinement",
              "baseline": "tiling and blending"}
    lines = ["| model | method | " + " | ".join(label for _, label in METRICS) + " |",
             "|---|---|" + "---|" * len(METRICS)]
    for name in names:
        manifest = read_model_file(bundled_models()[name]).manifest
        quality = manifest.get("quality") or {}
        chosen = manifest.get("exemplar", {}).get("default_mode")
        chosen = "baseline" if chosen == "blend" else chosen
        for method in (*COLUMNS, "baseline"):
            if method in quality:
                m = quality[method]
                cells = [f"{m[k]:.3f}" if k in m else "-" for k, _ in METRICS]
                label = labels[method] + (" **(default)**" if method == chosen else "")
                lines.append(f"| {name} | {label} | " + " | ".join(cells) + " |")
        base = quality.get("baseline", {})
        floor = [f"{base[k + '_real']:.3f}" if k + "_real" in base else "" for k, _ in METRICS]
        lines.append(f"| {name} | *real vs real* | " + " | ".join(floor) + " |")
    return "\n".join(lines)


def write_table() -> None:
    """Replace the table between the markers of docs/quality.md."""
    doc = DOCS / "quality.md"
    text = doc.read_text()
    start, end = "<!-- ablation table -->", "<!-- end of ablation table -->"
    head, rest = text.split(start, 1)
    tail = rest.split(end, 1)[1]
    doc.write_text(f"{head}{start}\n{table(sorted(bundled_models()))}\n{end}{tail}")


def main(argv: list[str]) -> int:
    names = argv or sorted(bundled_models())
    for folder in ("sheets", "ablation"):
        (DOCS / folder).mkdir(parents=True, exist_ok=True)
    for name in names:
        pictures(name)
        print(f"pictures of {name}", file=sys.stderr)
    write_table()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
