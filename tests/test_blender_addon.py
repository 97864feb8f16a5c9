"""The add-on inside real Blender (bpy): validated zip, install, node tree, render, clean failures."""
from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import EXPECTED_NODES, addon, datablocks, link_set, new_plane, run_blender_script

from blender_texgan.engine.generate import DEFAULT_MODEL, GenerationRequest, generate


def test_addon_is_installed_and_registered(blender):
    bpy = blender
    import addon_utils
    assert addon_utils.check("bl_ext.user_default.blender_texgan")[1]
    assert hasattr(bpy.types, "TEXGAN_PT_generate")
    assert "generate_material" in dir(bpy.ops.texgan)
    assert bpy.context.scene.texgan.resolution == 1024
    assert bpy.context.scene.texgan.model == DEFAULT_MODEL  # the bundled default comes first
    assert bpy.context.scene.texgan.model_argument() == DEFAULT_MODEL


def test_generate_builds_the_pbr_node_tree(blender, tiny_model):
    bpy = blender
    plane = new_plane(bpy)
    assert bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=64, seed=7) == {"FINISHED"}
    mat = plane.active_material
    assert mat is not None and mat.use_nodes
    tree = mat.node_tree
    assert sorted(n.bl_idname for n in tree.nodes) == EXPECTED_NODES
    assert link_set(tree) == {
        (("ShaderNodeTexCoord", "UV"), ("ShaderNodeMapping", "Vector")),
        (("ShaderNodeMapping", "Vector"), ("albedo", "Vector")),
        (("ShaderNodeMapping", "Vector"), ("normal", "Vector")),
        (("ShaderNodeMapping", "Vector"), ("roughness", "Vector")),
        (("ShaderNodeMapping", "Vector"), ("height", "Vector")),
        (("albedo", "Color"), ("ShaderNodeBsdfPrincipled", "Base Color")),
        (("roughness", "Color"), ("ShaderNodeBsdfPrincipled", "Roughness")),
        (("normal", "Color"), ("ShaderNodeNormalMap", "Color")),
        (("ShaderNodeNormalMap", "Normal"), ("ShaderNodeBsdfPrincipled", "Normal")),
        (("height", "Color"), ("ShaderNodeDisplacement", "Height")),
        (("ShaderNodeBsdfPrincipled", "BSDF"), ("ShaderNodeOutputMaterial", "Surface")),
        (("ShaderNodeDisplacement", "Displacement"), ("ShaderNodeOutputMaterial", "Displacement")),
    }
    images = {n.label.lower(): n.image for n in tree.nodes if n.bl_idname == "ShaderNodeTexImage"}
    assert {k: v.colorspace_settings.name for k, v in images.items()} == {
        "albedo": "sRGB", "normal": "Non-Color", "roughness": "Non-Color", "height": "Non-Color"}
    for image in images.values():
        assert tuple(image.size) == (64, 64)
        assert image.packed_file is not None

    # The pixels are the engine's maps (rows bottom to top in Blender).
    maps, _ = generate(GenerationRequest(str(tiny_model), 64, 7, "cpu"))
    for name, image in images.items():
        px = np.empty(64 * 64 * 4, np.float32)
        image.pixels.foreach_get(px)
        px = px.reshape(64, 64, 4)[::-1]
        expected = maps[name] if maps[name].shape[-1] == 3 else np.repeat(maps[name], 3, -1)
        tolerance = 1e-4 if name == "height" else 1.0 / 255 + 1e-4
        assert np.abs(px[..., :3] - expected).max() <= tolerance, name
    normal_map = next(n for n in tree.nodes if n.bl_idname == "ShaderNodeNormalMap")
    assert normal_map.space == "TANGENT"


def test_default_model_is_bundled_and_used(blender):
    bpy = blender
    plane = new_plane(bpy)
    assert bpy.ops.texgan.generate_material(resolution=64, seed=0) == {"FINISHED"}
    assert plane.active_material["texgan"]["model"] == DEFAULT_MODEL


def test_cycles_render_of_the_plane_is_not_blank(blender, tiny_model, tmp_path):
    bpy = blender
    from PIL import Image

    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    plane = new_plane(bpy)
    bpy.ops.texgan.generate_material(model=str(tiny_model), resolution=64, seed=1)
    bpy.ops.object.camera_add(location=(0, 0, 3.0))
    bpy.context.scene.camera = bpy.context.active_object
    bpy.ops.object.light_add(type="SUN", rotation=(math.radians(30), 0, 0))
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = 4
    scene.render.resolution_x = scene.render.resolution_y = 48
    scene.render.filepath = str(tmp_path / "render.png")
    bpy.ops.render.render(write_still=True)
    img = np.asarray(Image.open(tmp_path / "render.png").convert("RGB"), np.float32) / 255.0
    center = img[12:36, 12:36]
    assert center.mean() > 0.02, "plane renders black"
    assert center.std() > 0.01, "plane renders flat: the texture does not reach the render"
    assert plane.active_material is not None


@pytest.mark.parametrize("kind", ["truncated", "not_safetensors"])
def test_bad_model_file_gives_one_error_and_leaves_nothing(blender, tiny_model, tmp_path, kind):
    bpy = blender
    bad = tmp_path / f"{kind}.safetensors"
    if kind == "truncated":
        bad.write_bytes(tiny_model.read_bytes()[:300])
    else:
        bad.write_bytes(b"this is a text file, not a model\n" * 20)
    plane = new_plane(bpy)
    before = datablocks(bpy)
    with pytest.raises(RuntimeError) as info:
        bpy.ops.texgan.generate_material(model=str(bad), resolution=64, seed=0)
    message = str(info.value).strip()
    assert "\n" not in message and bad.name in message and "Traceback" not in message
    assert datablocks(bpy) == before
    assert plane.active_material is None


@pytest.fixture(scope="module")
def no_torch_session(built_zip, tiny_model, tmp_path_factory) -> dict:
    """One fresh Blender without torch (its own process and user folder): undo/redo of Generate,
    then the zero-install engine; each test below reads its part."""
    return run_blender_script("no_torch_session.py", tmp_path_factory.mktemp("no_torch"), built_zip, tiny_model)


def test_blender_without_torch_generates_with_the_zero_install_engine(no_torch_session):
    result = no_torch_session["no_torch"]
    assert result["result"] == ["FINISHED"] and not result["torch_loaded"]
    assert result["image_sizes"] == [[64, 64]] * 4 and result["pixel_std"] > 1e-3
    assert "torch engine needs PyTorch" in result["torch_refused"] and "\n" not in result["torch_refused"]


def test_undo_removes_the_generated_material_and_redo_restores_it(no_torch_session):
    r = no_torch_session["undo"]
    assert r["result"] == ["FINISHED"]
    assert r["before"] == {"materials": [], "images": {}, "active_material": None, "slots": 0}
    made = r["generated"]
    assert made["materials"] == ["TexGAN tiny s5"] and made["active_material"] == "TexGAN tiny s5"
    assert len(made["images"]) == 4 and all(size == [64, 64] and packed and std > 1e-3
                                            for size, packed, std in made["images"].values())
    assert r["undone"] == r["before"]  # Ctrl+Z: no material, no images, the object as it was
    assert r["redone"] == made          # Ctrl+Shift+Z: all of it back, packed pixels included


def test_external_worker_killed_mid_job_reports_and_the_next_job_works(blender, tiny_model):
    import signal
    import sys
    import time

    gen, jobs, external = addon("engine.generate"), addon("engine.jobs"), addon("engine.external")
    runner = jobs.JobRunner()
    request = gen.GenerationRequest(str(tiny_model), 4096, 0, "cpu", "external", sys.executable)
    job = runner.submit(request)
    deadline = time.time() + 120
    while time.time() < deadline and (external.current_process is None or job.progress == 0):
        time.sleep(0.01)
    assert job.active, f"the job ended before it could be killed: {job.state} {job.error}"
    external.current_process.send_signal(signal.SIGKILL)
    assert job.wait(60)
    assert job.state == jobs.FAILED
    assert "stopped unexpectedly" in job.error and "\n" not in job.error
    count = len(blender.data.objects)
    blender.ops.mesh.primitive_cube_add()  # Blender is still here and still works
    assert len(blender.data.objects) == count + 1

    job = runner.submit(gen.GenerationRequest(str(tiny_model), 64, 1, "cpu", "external", sys.executable))
    assert job.wait(120) and job.state == jobs.DONE, job.error
    maps, manifest = job.result
    local, _ = gen.generate(gen.GenerationRequest(str(tiny_model), 64, 1, "cpu", "torch"))
    for name in local:
        assert np.abs(maps[name] - local[name]).max() < 1e-5, name


def test_external_engine_with_a_missing_interpreter_is_one_sentence(blender, tiny_model, tmp_path):
    gen = addon("engine.generate")
    with pytest.raises(gen.GenerationError, match="does not exist"):
        gen.generate(gen.GenerationRequest(str(tiny_model), 64, 0, "cpu", "external", str(tmp_path / "python")))


def test_cancelled_job_leaves_no_datablocks(blender, tiny_model):
    bpy = blender
    jobs, gen = addon("engine.jobs"), addon("engine.generate")
    before = datablocks(bpy)
    runner = jobs.JobRunner()
    job = runner.submit(gen.GenerationRequest(str(tiny_model), 4096, 0, "cpu", "numpy"))
    job.cancel()
    assert job.wait(60) and job.state == jobs.CANCELLED and job.result is None
    assert datablocks(bpy) == before


def test_inside_blender_engines_agree_and_a_job_runs_to_completion(blender, tiny_model):
    gen, jobs = addon("engine.generate"), addon("engine.jobs")
    a, _ = gen.generate(gen.GenerationRequest(str(tiny_model), 128, 5, "cpu", "torch"))
    b, _ = gen.generate(gen.GenerationRequest(str(tiny_model), 128, 5, "cpu", "numpy"))
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-3
    runner = jobs.JobRunner()
    job = runner.submit(gen.GenerationRequest(str(tiny_model), 2048, 5, "cpu", "numpy"))
    assert job.state == jobs.RUNNING and runner.busy()
    assert job.wait(120) and job.state == jobs.DONE and job.progress == 1.0 and not runner.busy()
    maps, manifest = job.result
    assert maps["normal"].shape == (2048, 2048, 3) and manifest["name"] == "tiny"
