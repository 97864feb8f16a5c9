"""The prepared GPU window (scripts/gpu_window.sh): at toy scale on the CPU it runs every step and
writes every file it promises; its data packer and its table work on their own."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROMISED = ("window.log", "cv.md", "cv.json", "fold0.safetensors", "fold1.safetensors", "fold2.safetensors",
            "all.safetensors")


def _row(deg: float, corr: float, realism: float) -> dict:
    return {"normal_deg": deg, "normal_deg_classical": 8.6, "normal_deg_flat": 8.5, "slope_corr": corr,
            "slope_corr_classical": 0.05, "slope_corr_flat": 0.0, "realism": realism, "realism_classical": 0.9,
            "realism_flat": 1.0}


def test_the_table_applies_the_ship_rule_to_three_folds(tmp_path):
    from scripts.gpu_window_table import write_table

    work, out = tmp_path / "work", tmp_path / "out"
    work.mkdir(), out.mkdir()
    for k, row in enumerate([_row(8.0, 0.3, 0.5), _row(8.2, 0.2, 0.6), _row(9.5, 0.0, 1.2)]):
        (work / f"fold{k}.json").write_text(json.dumps({f"set{k}": row}))
    result = write_table(work, out)
    assert result["ships"] is False  # the mean of the three is worse than flat on the angle
    assert "does not ship" in (out / "cv.md").read_text()
    assert [c.split(":")[0] for c in result["checks"]] == ["FAIL", "pass", "pass"]


def test_the_toy_packer_writes_sets_the_trainer_reads(tmp_path):
    from scripts.pack_gpu_data import main
    from trainer.pbr_sets import find_pbr_sets

    assert main([str(tmp_path / "d"), "--toy"]) == 0
    assert len(find_pbr_sets(tmp_path / "d")) == 6


@pytest.mark.slow
def test_the_toy_window_writes_every_promised_file(tmp_path):
    from blender_texgan.core.modelfile import read_model_file

    out = tmp_path / "out"
    # MINUTES: each of the four trainings stops after its first step past 1.2 s (the toy's own 12 s adds only
    # steps: every step, file and check of the window runs either way; the clock checkpoint needs a minute)
    env = dict(os.environ, PYTHON=sys.executable, TMPDIR=str(tmp_path), MINUTES="0.02")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "gpu_window.sh"), "--toy", str(out)], env=env,
                          capture_output=True, text=True, timeout=600)
    log = (out / "window.log").read_text() if (out / "window.log").is_file() else done.stdout + done.stderr
    assert done.returncode == 0, log
    files = sorted(p.name for p in out.iterdir())
    assert set(PROMISED) <= set(files) and len(files) <= 8, files
    assert all((out / f).stat().st_size <= 16 * 2 ** 20 for f in files)
    for run in ("fold0", "fold1", "fold2", "all"):
        assert read_model_file(out / f"{run}.safetensors").manifest["kind"] == "translator"
    result = json.loads((out / "cv.json").read_text())
    assert sorted(result["folds"]) == ["fold0", "fold1", "fold2"] and isinstance(result["ships"], bool)
    assert all(s["steps"] for s in result["training"].values()), result["training"]
    assert '"exact": true' in log, log  # the torch field equals numpy's
    assert "Ship rule" in (out / "cv.md").read_text()
