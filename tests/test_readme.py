"""The README and the docs say what the files say: the model table is printed from the model files,
every picture and link they name exists, and the README stays short enough to read."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from blender_texgan.core.modelfile import read_manifest
from blender_texgan.engine.generate import bundled_models
from scripts import model_table

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = sorted([README, *ROOT.glob("docs/*.md"), *ROOT.glob("docs/*/README.md")])
# Named before they are written: the Infinite materials page comes with that feature's own work.
PENDING = {ROOT / "docs" / "infinite.md"}
LINK = re.compile(r"\]\(([^)#\s]+)[^)]*\)|<img src=\"([^\"]+)\"")


def test_the_readme_table_is_the_model_files():
    text = README.read_text()
    table = text.split(model_table.START, 1)[1].split(model_table.END, 1)[0].strip()
    assert table == model_table.readme_table(), "run: .venv/bin/python scripts/model_table.py --write-readme"


def test_the_readme_is_short_and_keeps_its_two_commands():
    text = README.read_text()
    assert len(text.splitlines()) <= 200
    makefile = (ROOT / "Makefile").read_text()
    for target in ("demo", "test"):
        assert f"make {target}" in text and re.search(rf"^{target}:", makefile, re.M)


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_picture_and_link_exists(doc):
    missing = []
    for match in LINK.finditer(doc.read_text()):
        target = match.group(1) or match.group(2)
        if re.match(r"[a-z]+:", target):  # a web address
            continue
        if not (doc.parent / target).exists() and (doc.parent / target).resolve() not in PENDING:
            missing.append(target)
    assert not missing, f"{doc.name} names files that do not exist: {missing}"


def test_what_the_words_say_about_modes_holds():
    """`generate --mode` help and the Photographic tooltip say that every bundled model resolves to
    random or blend; a model whose export picks refined makes them wrong."""
    modes = {n: read_manifest(p)["exemplar"]["default_mode"] for n, p in bundled_models().items()}
    assert set(modes.values()) <= {"random", "blend"}, modes
