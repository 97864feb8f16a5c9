"""End to end at tiny size, through the command lines: data -> train -> export -> generate -> Blender."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from blender_texgan.core.modelfile import read_model_file
from blender_texgan.core.tiling import looks_periodic

ROOT = Path(__file__).resolve().parent.parent


def run(*args, check=True):
    result = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)
    if check and result.returncode != 0:
        pytest.fail(f"{args} exited {result.returncode}:\n{result.stderr[-2000:]}")
    return result


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("e2e")
    data, runs, model = tmp / "data", tmp / "runs" / "tiny", tmp / "tiny_bricks.safetensors"
    run("trainer", "data", "--preset", "bricks", "--count", "3", "--size", "64", "--out", str(data))
    train = run("trainer", "train", "--data", str(data), "--out", str(runs), "--steps", "4", "--batch", "2",
                "--crop", "32", "--channels", "16,12,8", "--local-channels", "8", "--ckpt-every", "2",
                "--sample-every", "2", "--device", "cpu")
    assert "train" in train.stderr and "step" in train.stderr  # tqdm progress
    run("trainer", "export", str(runs), "--out", str(model))
    return runs, model


def test_run_folder_holds_options_checkpoints_samples_and_log(exported):
    runs, _ = exported
    options = json.loads((runs / "options.json").read_text())
    assert options["steps"] == 4 and options["preset"] is None and options["data"]
    assert sorted(p.name for p in (runs / "checkpoints").iterdir()) == ["ckpt-00000002.pt", "ckpt-00000004.pt"]
    grid = Image.open(runs / "samples" / "step-00000004.png")
    assert grid.size == (4 * 2 * 32, 3 * 2 * 32)  # 4 samples tiled 2x2; albedo, normal, height rows
    lines = (runs / "log.jsonl").read_text().splitlines()
    assert len(lines) == 4 and json.loads(lines[-1])["step"] == 4


def test_exported_manifest_says_how_it_was_trained(exported):
    _, model = exported
    manifest = read_model_file(model).manifest
    assert manifest["name"] == "tiny_bricks"
    assert manifest["training"]["steps"] == 4
    assert manifest["training"]["command"].startswith("python -m trainer train --data")
    assert manifest["architecture"]["config"]["channels"] == [16, 12, 8]


def test_export_credits_the_source_and_the_card_says_when_a_run_stopped_early(exported, tmp_path):
    from blender_texgan.core.modelfile import write_model_file
    from blender_texgan.engine.library import model_card

    runs, _ = exported
    credited = tmp_path / "credited.safetensors"
    run("trainer", "export", str(runs), "--out", str(credited), "--no-metrics",
        "--credit", "Bricks by someone, https://example.org/bricks, CC0")
    loaded = read_model_file(credited)
    assert loaded.manifest["credits"] == ["Bricks by someone, https://example.org/bricks, CC0"]  # not twice
    assert read_model_file(exported[1]).manifest["credits"]  # without --credit: the data's own names
    assert loaded.manifest["training"]["planned_steps"] == 4
    card = model_card(credited)
    assert "Trained: 4 steps," in " ".join(card) and "stopped early" not in " ".join(card)
    assert card[-1].startswith("Credits: ") and card[-1].endswith("https://example.org/bricks, CC0")

    loaded.manifest["training"]["planned_steps"] = 2500  # as if killed at step 4 of 2500
    stopped = write_model_file(tmp_path / "stopped.safetensors", loaded.tensors, loaded.manifest)
    assert "Trained: 4 steps (stopped early; 2500 planned)" in " ".join(model_card(stopped))


def test_terminal_generate_writes_one_png_per_map(exported, tmp_path):
    _, model = exported
    result = run("blender_texgan", "generate", "--model", str(model), "--size", "64", "--seed", "2",
                 "--out", str(tmp_path))
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == [f"tiny_bricks_s2_{m}.png" for m in ("albedo", "height", "normal", "roughness")]
    albedo = np.asarray(Image.open(tmp_path / "tiny_bricks_s2_albedo.png"), np.float32)
    assert albedo.shape == (64, 64, 3) and albedo.std() > 0.5 and looks_periodic(albedo)
    assert "generated 64x64" in result.stderr


def test_terminal_generate_reports_a_bad_model_in_one_line(tmp_path):
    bad = tmp_path / "broken.safetensors"
    bad.write_bytes(b"\0" * 3)
    result = run("blender_texgan", "generate", "--model", str(bad), "--size", "64", "--out", str(tmp_path),
                 check=False)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "broken.safetensors" in result.stderr
    assert "Traceback" not in result.stderr


def test_train_on_an_empty_folder_is_one_sentence(tmp_path):
    result = run("trainer", "train", "--data", str(tmp_path), "--out", str(tmp_path / "run"), "--steps", "1",
                 check=False)
    assert result.returncode == 2 and "No usable textures" in result.stderr and "Traceback" not in result.stderr


def test_addon_loads_the_exported_model(blender, exported):
    bpy = blender
    _, model = exported
    bpy.ops.mesh.primitive_plane_add()
    assert bpy.ops.texgan.generate_material(model=str(model), resolution=32, seed=0) == {"FINISHED"}
    material = bpy.context.active_object.active_material
    assert material["texgan"]["model"] == "tiny_bricks"
    assert all(n.image.size[0] == 32 for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage")


def test_importing_the_addon_outside_blender_needs_no_bpy():
    code = "import sys, blender_texgan, blender_texgan.engine.generate, blender_texgan.__main__; " \
           "assert 'bpy' not in sys.modules; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr
