"""Tables of model files, printed from the files themselves so that no text about them can drift.

    .venv/bin/python scripts/model_table.py                       # the README's table of bundled models
    .venv/bin/python scripts/model_table.py --write-readme        # ... put between the README's markers
    .venv/bin/python scripts/model_table.py --metrics             # metrics and training facts, bundled
    .venv/bin/python scripts/model_table.py --metrics runs/*.safetensors    # ... of any model files

tests/test_readme.py checks that the README's table is this script's output.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from blender_texgan.core.modelfile import read_manifest
from blender_texgan.engine.generate import DEFAULT_MODEL, bundled_models
from blender_texgan.engine.library import bundled_translators
from trainer.metrics import meets_bar
from trainer.quality import floored

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
START, END = "<!-- model table: scripts/model_table.py --write-readme -->", "<!-- end of model table -->"
# The panel's names of the generation modes (blender/properties.py MODE_ITEMS; `--mode` in a terminal).
DETAIL = {"random": "Exemplar Only", "blend": "Tiling and Blending", "refined": "Photographic (refined)",
          "neural": "Neural Draft"}


def _credits(manifest: dict) -> str:
    """'Bark014 by ambientCG, https://..., CC0 1.0' -> 'Bark014 (ambientCG)'; several joined."""
    names = []
    for credit in manifest.get("credits") or []:
        work, _, author = credit.split(",")[0].partition(" by ")
        names.append(f"{work} ({author})" if author else work)
    return ", ".join(names)


def _row(path: Path) -> str:
    m = read_manifest(path)
    name, training = path.stem, m.get("training", {})
    picture = ROOT / "docs" / "images" / f"{name}.jpg"
    shown = f"[`{name}`](docs/images/{name}.jpg)" if picture.exists() else f"`{name}`"
    if m["kind"] == "translator":
        what = f"{m['translator']['from']} → {m['translator']['to']} (material translator)"
        detail = "-"
    else:
        what = m["description"].split(". ")[0].rstrip(".")
        block = m.get("exemplar") or {}
        detail = DETAIL[block.get("default_mode", "refined")]
        detail += " (set by review)" if block.get("default_by") == "review" else ""
    trained = f"{training['seconds'] / 60:.0f} min, {training['steps']} steps" if "seconds" in training else "-"
    size = f"{path.stat().st_size / 1e6:.1f} MB"
    return f"| {shown} | {what} | {_credits(m)} | {detail} | {trained} | {size} |"


def readme_table() -> str:
    """The README's model table: every bundled model (the default first) and material translator."""
    models = bundled_models()
    names = [DEFAULT_MODEL] + [n for n in models if n != DEFAULT_MODEL]
    translators = [*bundled_translators("maps_to_maps").values(), *bundled_translators("photo_to_maps").values()]
    lines = [f"{len(models)} models and {len(translators)} material translators ship with the add-on, each "
             "made from CC0 photographic PBR sets (credits on each model's card; trained on a 2-core CPU):", "",
             "| model | what it makes | made from (CC0) | default detail | training | file |",
             "|---|---|---|---|---|---|"]
    lines += [_row(models[n]) for n in names] + [_row(p) for p in translators]
    return "\n".join(lines)


def write_readme() -> None:
    text = README.read_text()
    head, rest = text.split(START, 1)
    README.write_text(f"{head}{START}\n{readme_table()}\n{END}{rest.split(END, 1)[1]}")


def metrics_table(files: list[Path]) -> str:
    """Per model: what it was trained on, its default detail mode and its card's metrics."""
    lines = ["| model | trained on | default detail | band-pass albedo vs T&B | coarse SWD vs T&B | fine SWD ratio "
             "| seam | diversity | largest copy / side | meets bar |", "|---|---|---|---|---|---|---|---|---|---|"]
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
        lines.append(f"| {m['name']} | {source} | {mode} | {' | '.join(versus)} | {' | '.join(cells)} "
                     f"| {'yes' if meets_bar(metrics) else 'no'} |")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", type=Path, help="model files for --metrics (default: the bundled ones)")
    parser.add_argument("--metrics", action="store_true", help="the metrics table instead of the README's")
    parser.add_argument("--write-readme", action="store_true", help="write the README's table in place")
    args = parser.parse_args(argv)
    if args.metrics:
        print(metrics_table(args.files or list(bundled_models().values())))
    elif args.write_readme:
        write_readme()
    else:
        print(readme_table())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
