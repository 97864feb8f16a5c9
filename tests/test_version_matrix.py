"""Every current Blender installs the zip and generates: 4.2 LTS and 5.0 here (4.5 LTS is the main
test environment, run here too through the same script). Each other version runs in its own virtual environment (.venv-matrix/, created on first use
from the package registry) with bpy and numpy only, so generation also goes through the
zero-install numpy engine."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MATRIX = ROOT / ".venv-matrix"
VERSIONS = ["4.2.23", "4.5.4", "5.0.1"]
MAIN_VERSION = "4.5.4"  # the main test environment (.venv, with torch)


def matrix_python(version: str) -> Path:
    if version == MAIN_VERSION:
        return Path(sys.executable)
    venv = MATRIX / f"bpy-{version}"
    python = venv / "bin" / "python"
    marker = venv / ".installed"
    if not marker.exists():
        # no pip of its own (this environment's pip installs into it) and no bytecode compiled at install (the
        # one Blender start compiles what it imports): 12 s instead of 30 s a version on a fresh clone
        subprocess.run([sys.executable, "-m", "venv", "--clear", "--without-pip", str(venv)], check=True)
        subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-compile",
                        f"bpy=={version}", "numpy<2"], check=True, timeout=1800)
        marker.touch()
    return python


@pytest.mark.parametrize("version", VERSIONS)
def test_install_and_generate(version, built_zip, tmp_path):
    python = matrix_python(version)
    out = tmp_path / "result.json"
    script = ROOT / "tests" / "blender_scripts" / "install_and_generate.py"
    (tmp_path / "tmp").mkdir()   # Blender's own temporary folder: left behind at exit, so kept in the test's
    proc = subprocess.run([str(python), str(script), str(built_zip), str(out)], capture_output=True, text=True,
                          timeout=600, env={"PATH": "/usr/bin:/bin", "BLENDER_USER_RESOURCES": str(tmp_path / "u"),
                                            "TMPDIR": str(tmp_path / "tmp"),
                                            "PYTHONPATH": str(ROOT)})  # scripts.headless: this venv lacks the repo
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["version"].startswith(version.rsplit(".", 1)[0])
    assert result["result"] == ["FINISHED"]
    # the bundled model's default (exemplar-only) mode never imports torch, even where it is installed
    assert result["torch"] is False
    assert result["nodes"].count("ShaderNodeTexImage") == 4 and "ShaderNodeDisplacement" in result["nodes"]
    assert result["links"] == 12
    assert result["colorspaces"] == ["Non-Color", "Non-Color", "Non-Color", "sRGB"]
    assert sorted(result["reopened"]) == ["albedo", "height", "normal", "roughness"]
    for size, packed, std in result["reopened"].values():  # packed pixels survive save + reopen
        assert size == [128, 128] and packed and std > 0.01
    assert result["photo"] == [["FINISHED"], [64, 64]]  # Image to Material from a datablock
