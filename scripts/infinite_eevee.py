"""The infinite material in EEVEE (issue 24): does it render, how close is it to Cycles, how long
does its shader take to compile, and are there lines at the triangle grid's edges?

    .venv/bin/python -m scripts.infinite_eevee [--model sand_rocks] [--size 192] [--samples 16]

Builds the add-on's zip, installs it into a private headless Blender and makes the model's infinite
material. Then, seen from above around a lattice vertex (six triangle edges meet there):

- compile time: EEVEE is started with a plain emission material first (its own shaders, once per
  process), then each material (the group's Base Color through an emission shader; the full
  material: Principled BSDF, normals, a sun; for comparison the model's baked material) is
  rendered at 1 sample three times: the first render compiles the material's shader, the others
  find it compiled; first minus the fastest other is the compile time. --cold-cache points Blender's and Mesa's on-disk shader caches at an empty
  folder (XDG_CACHE_HOME), as on a machine that has never run EEVEE; without it a second run of
  this script finds the shaders compiled on disk.
- EEVEE against Cycles: the emission renders (no lighting, so only the texture shows) at two
  zooms, 1 render pixel per exemplar pixel and 1 per 4 (where EEVEE's mip levels come in), with
  the same samples and pixel filter; mean absolute difference in 8-bit sRGB steps, and the step
  between neighbouring pixels across a triangle edge over the step elsewhere (1: no line).

Headless EEVEE here runs on software OpenGL (its renderer string is printed): slow, but real.
Writes docs/infinite/eevee.jpg and /tmp/infinite_eevee/*.png, and prints the figures.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from scripts import headless
from scripts.infinite_filtering import _emission_material, edge_step_ratio

ROOT = Path(__file__).resolve().parent.parent
PINK = np.array([1.0, 0.0, 1.0])  # EEVEE's colour for a shader that failed to compile


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sand_rocks")
    p.add_argument("--size", type=int, default=192, help="render side in pixels")
    p.add_argument("--samples", type=int, default=16, help="samples of both engines")
    p.add_argument("--scale", type=float, default=2.0, help="the group's Scale (exemplar width, metres)")
    p.add_argument("--zooms", default="1,0.25", help="render pixels per exemplar pixel, one view each")
    p.add_argument("--out", default="/tmp/infinite_eevee", help="folder for the PNG renders")
    p.add_argument("--picture", default=str(ROOT / "docs" / "infinite" / "eevee.jpg"))
    p.add_argument("--json", default=None, help="also write the figures here")
    p.add_argument("--cold-cache", action="store_true", help="empty on-disk shader caches (XDG_CACHE_HOME)")
    return p.parse_args(argv)


def eevee_engine(bpy) -> str:
    """EEVEE's engine identifier: BLENDER_EEVEE_NEXT in 4.2-4.5, BLENDER_EEVEE in 5.0."""
    items = [e.identifier for e in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items]
    return "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in items else "BLENDER_EEVEE"


def render(bpy, engine: str, path: Path) -> tuple[np.ndarray, float]:
    """(RGB in [0, 1], wall seconds) of one render with `engine`, written to `path` as PNG."""
    from PIL import Image

    scene = bpy.context.scene
    scene.render.engine = engine
    scene.render.filepath = str(path)
    start = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    seconds = time.perf_counter() - start
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0, seconds


def plain_material(bpy):
    material = bpy.data.materials.new("plain emission")
    material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    emit, out = tree.nodes.new("ShaderNodeEmission"), tree.nodes.new("ShaderNodeOutputMaterial")
    emit.inputs["Color"].default_value = (0.5, 0.4, 0.3, 1.0)
    tree.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    return material


def diagonal_ratio(a: np.ndarray, b: np.ndarray) -> float:
    """Mean |a - b| on the image's top-left to bottom-right diagonal (within a pixel) over the mean
    elsewhere: a dotted line along the screen's diagonal shows up as a ratio well above 1."""
    d = np.abs(a - b).max(axis=-1)
    rows, cols = np.indices(d.shape)
    on = np.abs(rows - cols) <= 1
    return float(d[on].mean() / d[~on].mean())


def pink_fraction(rgb: np.ndarray) -> float:
    return float((np.abs(rgb - PINK).max(axis=-1) < 0.05).mean())


def main(args) -> dict:
    import math
    import os

    from PIL import Image

    import build

    if args.cold_cache:  # before bpy starts OpenGL: Blender's and Mesa's shader caches live there
        os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="texgan-shader-cache-")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="texgan-infinite-eevee-"))
    started = time.perf_counter()
    bpy = headless.start(work / "user")
    headless.install_extension(build.build(work / "dist"))
    eevee = eevee_engine(bpy)
    import gpu  # only once bpy is imported

    def addon(name):
        import importlib
        return importlib.import_module(f"bl_ext.user_default.blender_texgan.{name}")

    core = addon("core.infinite")
    plane, result = headless.infinite_plane(args.model, 512, 0)
    assert result == {"FINISHED"}
    full = plane.active_material
    settings = bpy.context.scene.texgan
    settings.surface = "BAKED"  # for comparison: the baked material (Principled BSDF, four images)
    assert bpy.ops.texgan.generate_material(model=args.model, resolution=512, seed=0) == {"FINISHED"}
    baked = plane.active_material
    group_node = next(n for n in full.node_tree.nodes if n.bl_idname == "ShaderNodeGroup")
    group_node.inputs["Scale"].default_value = args.scale
    group = group_node.node_tree
    model = addon("core.modelfile").read_model_file(addon("engine.library").resolve_model(args.model))
    prepared = core.prepare(model.exemplar, addon("engine.infinite").normal_strength(model.manifest))
    per_metre = prepared.shape[1] / args.scale                     # exemplar pixels per metre
    centre = np.array([4 * prepared.cell, 2 * prepared.cell * core.ROW_FACTOR]) / per_metre  # vertex (3, 2)

    bpy.ops.object.camera_add(location=(centre[0], centre[1], 2.0))
    camera = bpy.context.active_object
    camera.data.type = "ORTHO"
    bpy.ops.object.light_add(type="SUN", rotation=(math.radians(35), 0.0, math.radians(30)))
    bpy.context.active_object.data.energy = 3.0
    scene = bpy.context.scene
    scene.camera = camera
    scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", args.samples, False
    scene.eevee.taa_render_samples = args.samples
    scene.render.resolution_x = scene.render.resolution_y = args.size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"
    figures = {"blender": bpy.app.version_string, "engine": eevee, "model": args.model, "size": args.size,
               "samples": args.samples, "setup_s": time.perf_counter() - started}

    def use(material):
        plane.data.materials.clear()
        plane.data.materials.append(material)

    def view(zoom: float) -> float:
        camera.data.ortho_scale = args.size / zoom / per_metre
        return camera.data.ortho_scale

    def timed(material, name: str) -> dict:
        """1-sample EEVEE renders of `material`: the first compiles its shader; compile estimate =
        first - the fastest of the two others."""
        use(material)
        scene.eevee.taa_render_samples = 1
        times = [render(bpy, eevee, out / f"timing_{name}.png")[1] for _ in range(3)]
        scene.eevee.taa_render_samples = args.samples
        return {"renders_s": times, "compile_s": times[0] - min(times[1:])}

    # 1. EEVEE's own start (its engine shaders), with a material that costs nothing to compile
    view(1.0)
    figures["plain"] = timed(plain_material(bpy), "plain")
    figures["gpu"] = f"{gpu.platform.vendor_get()} | {gpu.platform.renderer_get()} | {gpu.platform.version_get()}"
    figures["emission"] = timed(_emission_material(bpy, group, "Base Color", args.scale), "emission")
    figures["full"] = timed(full, "full")
    figures["baked"] = timed(baked, "baked")

    # 2. the group's Base Color through emission: compile time, EEVEE against Cycles, lines
    use(_emission_material(bpy, group, "Base Color", args.scale))
    shown, views = [], {}
    for zoom in (float(z) for z in args.zooms.split(",")):
        metres = view(zoom)
        e, first = render(bpy, eevee, out / f"eevee_emission_{zoom:g}.png")
        c, cycles_s = render(bpy, "CYCLES", out / f"cycles_emission_{zoom:g}.png")
        c_x = (np.arange(args.size) + 0.5) / args.size * metres - metres / 2
        x, y = np.meshgrid(centre[0] + c_x, centre[1] - c_x)
        vi, vj, _ = core.triangle(x * per_metre, y * per_metre, prepared.cell)
        diff = np.abs(e - c) * 255
        views[f"{zoom:g}"] = {
            "metres": metres, "eevee_s": first, "cycles_s": cycles_s,
            "mad_8bit": float(diff.mean()), "p99_8bit": float(np.percentile(diff.max(-1), 99)),
            "max_8bit": float(diff.max()), "mean_eevee": e.mean(axis=(0, 1)).tolist(),
            "mean_cycles": c.mean(axis=(0, 1)).tolist(), "std_eevee": float(e.std()), "std_cycles": float(c.std()),
            "edge_ratio_eevee": edge_step_ratio(e, vi, vj), "edge_ratio_cycles": edge_step_ratio(c, vi, vj),
            "diagonal_ratio": diagonal_ratio(e, c), "pink": pink_fraction(e)}
        shown.append((e, c))
    figures["views"] = views

    # 3. the full material (Principled BSDF, normals, sun): compiles, renders, looks like Cycles?
    view(1.0)
    use(full)
    e, first = render(bpy, eevee, out / "eevee_full.png")
    c, cycles_s = render(bpy, "CYCLES", out / "cycles_full.png")
    figures["full"] |= {"eevee_s": first, "cycles_s": cycles_s,
                       "mad_8bit": float(np.abs(e - c).mean() * 255), "mean_eevee": float(e.mean()),
                       "mean_cycles": float(c.mean()), "std_eevee": float(e.std()), "std_cycles": float(c.std()),
                       "diagonal_ratio": diagonal_ratio(e, c), "pink": pink_fraction(e)}
    shown.append((e, c))

    # picture: rows = views (emission per zoom, then the full material); columns = EEVEE, Cycles
    gap = np.ones((args.size, 6, 3), np.float32)
    rows = [np.concatenate([a, gap, b], axis=1) for a, b in shown]
    sep = np.ones((6, rows[0].shape[1], 3), np.float32)
    picture = np.concatenate(sum(([r, sep] for r in rows), [])[:-1], axis=0)
    pixels = Image.fromarray((np.clip(picture, 0, 1) * 255 + 0.5).astype(np.uint8))
    pixels.save(out / "eevee_vs_cycles.png")
    Path(args.picture).parent.mkdir(parents=True, exist_ok=True)
    pixels.save(args.picture, quality=85, optimize=True)
    figures["total_s"] = time.perf_counter() - started
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    return figures


if __name__ == "__main__":
    main(parse_args())
