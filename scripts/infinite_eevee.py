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
  the same samples and pixel filter; mean absolute difference in 8-bit sRGB steps, the step
  between neighbouring pixels across a triangle edge over the step elsewhere (1: no line), and
  the difference from Cycles beside the triangle edges over elsewhere (line_figures; a line along
  the edges makes it several times 1), leaving out a band along the screen's diagonal.
- the control, at each zoom: a plain Image Texture node (the baked albedo, no group) at the same
  view. Software OpenGL draws dotted lines into every mipmapped read where it splits the clipped
  plane (the screen's diagonal, and more at 1:4); they show in the control too.

Headless EEVEE here runs on software OpenGL (its renderer string is printed): slow, but real.
Writes docs/infinite/eevee.jpg (columns EEVEE, Cycles, |difference| x 8) and
/tmp/infinite_eevee/*.png, prints the figures and writes its section of the results file.
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
from scripts.infinite_renders import write_section

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
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "infinite.txt"),
                   help="results file: this script's section is replaced, the others kept")
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


def line_masks(core, centre, view: float, size: int, per_metre: float, cell: float):
    """For a `size`² render seen from above, `view` metres across around `centre`: (pixels beside a
    triangle edge, where a slot's vertex changes; pixels within 6 of the screen's top-left to
    bottom-right diagonal, where software OpenGL draws its dotted line)."""
    c = (np.arange(size) + 0.5) / size * view - view / 2
    x, y = np.meshgrid(centre[0] + c, centre[1] - c)
    vi, vj, _ = core.triangle(x * per_metre, y * per_metre, cell)
    key = vi * 65536.0 + vj                                  # per slot: its vertex
    edge = np.zeros((size, size), bool)
    rows = np.any(np.diff(key, axis=0) != 0, axis=-1)
    cols = np.any(np.diff(key, axis=1) != 0, axis=-1)
    edge[1:] |= rows
    edge[:-1] |= rows
    edge[:, 1:] |= cols
    edge[:, :-1] |= cols
    r, k = np.indices((size, size))
    return edge, np.abs(r - k) <= 6


def line_figures(a: np.ndarray, b: np.ndarray, edge: np.ndarray, diagonal: np.ndarray, steps: float = 255.0) -> dict:
    """|a - b| in 8-bit steps (a, b RGB times `steps` is steps): off the diagonal band; beside the
    triangle edges over elsewhere (a line along the edges: well above 1); on the band over off it."""
    d = np.abs(a - b).mean(axis=-1) * steps
    off = ~diagonal
    return {"mad_off_diagonal": float(d[off].mean()),
            "edge_over_rest": float(d[edge & off].mean() / d[~edge & off].mean()),
            "diagonal_over_rest": float(d[diagonal].mean() / d[off].mean()),
            "p99_off_diagonal": float(np.percentile(d[off], 99))}


def _plain_read_material(bpy, image, repeats_per_metre: float):
    """Emission of one Image Texture node (Linear) at the object coordinates, `repeats_per_metre`."""
    material = bpy.data.materials.new("plain read")
    material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    coord, scale = tree.nodes.new("ShaderNodeTexCoord"), tree.nodes.new("ShaderNodeVectorMath")
    scale.operation = "SCALE"
    scale.inputs["Scale"].default_value = repeats_per_metre
    texture = tree.nodes.new("ShaderNodeTexImage")
    texture.image, texture.interpolation = image, "Linear"
    emit, out = tree.nodes.new("ShaderNodeEmission"), tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(coord.outputs["Object"], scale.inputs[0])
    tree.links.new(scale.outputs["Vector"], texture.inputs["Vector"])
    tree.links.new(texture.outputs["Color"], emit.inputs["Color"])
    tree.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    return material


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

    # 2. the group's Base Color through emission: EEVEE against Cycles, lines. Then the control at
    #    the same view: a plain Image Texture node reading the baked albedo at the object coordinates
    #    (no group, no offsets), which shows what software OpenGL draws into any mipmapped read.
    emission = _emission_material(bpy, group, "Base Color", args.scale)
    control = _plain_read_material(bpy, next(n.image for n in baked.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"
                                             and n.image.colorspace_settings.name == "sRGB"), per_metre / 512)
    shown, views = [], {}
    for zoom in (float(z) for z in args.zooms.split(",")):
        metres = view(zoom)
        masks = line_masks(core, centre, metres, args.size, per_metre, prepared.cell)
        use(emission)
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
            "diagonal_ratio": diagonal_ratio(e, c), "pink": pink_fraction(e),
            "lines": line_figures(e, c, *masks)}
        shown.append((e, c))
        use(control)
        e, _ = render(bpy, eevee, out / f"eevee_control_{zoom:g}.png")
        c, _ = render(bpy, "CYCLES", out / f"cycles_control_{zoom:g}.png")
        views[f"{zoom:g}"]["control"] = {"mad_8bit": float(np.abs(e - c).mean() * 255),
                                         "diagonal_ratio": diagonal_ratio(e, c), "lines": line_figures(e, c, *masks)}
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
                       "diagonal_ratio": diagonal_ratio(e, c), "pink": pink_fraction(e),
                       "lines": line_figures(e, c, *line_masks(core, centre, view(1.0), args.size, per_metre,
                                                               prepared.cell))}
    shown.append((e, c))

    # picture: rows = per zoom the group's Base Color and the control, then the full material; columns = EEVEE,
    # Cycles, |EEVEE - Cycles| x 8 (a line along the triangle edges would show there first)
    gap = np.ones((args.size, 6, 3), np.float32)
    rows = [np.concatenate([a, gap, b, gap, np.clip(np.abs(a - b) * 8, 0, 1)], axis=1) for a, b in shown]
    sep = np.ones((6, rows[0].shape[1], 3), np.float32)
    picture = np.concatenate(sum(([r, sep] for r in rows), [])[:-1], axis=0)
    pixels = Image.fromarray((np.clip(picture, 0, 1) * 255 + 0.5).astype(np.uint8))
    pixels.save(out / "eevee_vs_cycles.png")
    Path(args.picture).parent.mkdir(parents=True, exist_ok=True)
    pixels.save(args.picture, quality=85, optimize=True)
    figures["total_s"] = time.perf_counter() - started
    figures["cold_cache"] = args.cold_cache
    text = json.dumps(figures, indent=1)
    print(text)
    if args.json:
        Path(args.json).write_text(text)
    if args.results:
        write_section(Path(args.results), "EEVEE (issue 24): scripts/infinite_eevee.py", results_lines(figures))
    return figures


def results_lines(f: dict) -> list[str]:
    """The figures as the results file's EEVEE section."""
    def compile_line(label, key):
        t = f.get(key, {})
        if "renders_s" not in t:
            return f"  {label}: not measured"
        return (f"  {label}: {t['renders_s'][0]:.1f} s first, then {t['renders_s'][1]:.1f} / {t['renders_s'][2]:.1f} s"
                f" -> {t['compile_s']:.1f} s")

    def lines_line(label, r):
        return (f"  {label}: |EEVEE - Cycles| off the diagonal band {r['mad_off_diagonal']:.2f} steps (99th pct "
                f"{r['p99_off_diagonal']:.1f}); beside triangle edges / elsewhere {r['edge_over_rest']:.2f}; "
                f"on the band / off it {r['diagonal_over_rest']:.1f}")

    views = f["views"]
    out = [f"Blender {f['blender']}, {f['engine']}, headless: {f['gpu']}",
           f"model {f['model']}, {f['size']}^2 px, {f['samples']} samples each, centred on a lattice vertex; "
           f"on-disk shader caches {'empty' if f.get('cold_cache') else 'as found'}",
           "Cycles GPU: not run (no GPU on this machine, none lent to this task)", "",
           "shader compile (1-sample EEVEE renders; first render of the material - fastest of the next two):",
           compile_line("EEVEE's own shaders (plain emission)", "plain"),
           compile_line("the group's Base Color through emission", "emission"),
           compile_line("the full infinite material", "full"),
           compile_line("the model's baked material", "baked"), "",
           "EEVEE against Cycles, 8-bit sRGB steps; lines: a line along the triangle edges makes 'beside / "
           "elsewhere' well above 1;", "  software OpenGL draws a dotted line along the screen's diagonal into every "
           "mipmapped read (see the control), left out as a band 6 px wide:"]
    for zoom, v in views.items():
        label = f"Base Color, emission, 1 render px per {1 / float(zoom):g} exemplar px"
        out.append(f"  {label}: mean |diff| {v['mad_8bit']:.2f}, std EEVEE {v['std_eevee']:.3f}, Cycles "
                   f"{v['std_cycles']:.3f}; step across an edge / elsewhere EEVEE {v['edge_ratio_eevee']:.2f}, "
                   f"Cycles {v['edge_ratio_cycles']:.2f}")
        out.append("  " + lines_line(label, v["lines"]))
    full = f["full"]
    out += [f"  full material, sun: mean |diff| {full['mad_8bit']:.2f}; pink pixels {full['pink']:.3f}",
            "  " + lines_line("full material", full["lines"]),
            *(f"  control at 1:{1 / float(z):g}, a plain Image Texture node (the baked albedo, no group): mean |diff| "
              f"{v['control']['mad_8bit']:.2f}\n  " + lines_line("control", v["control"]["lines"]) for z, v in views.items()),
            f"render time (16 samples): EEVEE {views[next(iter(views))]['eevee_s']:.0f} s, Cycles CPU "
            f"{views[next(iter(views))]['cycles_s']:.1f} s (emission, 1:1); whole script {f['total_s']:.0f} s",
            f"picture: {Path(f.get('picture', 'docs/infinite/eevee.jpg')).name}"]
    return out


if __name__ == "__main__":
    main(parse_args())
