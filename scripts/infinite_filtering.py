"""Filtering of the infinite material (issue 24 item 5): lines where the triangle grid's offsets change?

    .venv/bin/python -m scripts.infinite_filtering [--model sand_rocks] [--size 384] [--samples 16]

Renders, with Cycles on the CPU, a close-up seen from above around a lattice vertex (six triangle
edges meet there, so every kind of offset change is in view) with the group's Gaussian images read
Closest, Linear and Cubic; each of the group's Base Color and Normal outputs through an emission
shader, so only the texture shows. Writes docs/infinite/filtering.jpg (rows: Base Color, Normal;
columns: Closest, Linear, Cubic; the triangle edges drawn in a fourth column) and prints, per
render, the step between neighbouring pixels across a triangle edge over the step elsewhere (1: no
line; a visible line would show as a ratio well above 1).
"""
from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from scripts import headless

ROOT = Path(__file__).resolve().parent.parent
MODES = ("Closest", "Linear", "Cubic")
OUTPUTS = ("Base Color", "Normal")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sand_rocks")
    p.add_argument("--size", type=int, default=384, help="render side in pixels")
    p.add_argument("--samples", type=int, default=16)
    p.add_argument("--zoom", type=float, default=3.0, help="render pixels per exemplar pixel")
    p.add_argument("--scale", type=float, default=2.0, help="the group's Scale (exemplar width, metres)")
    p.add_argument("--picture", default=str(ROOT / "docs" / "infinite" / "filtering.jpg"))
    return p.parse_args(argv)


def _emission_material(bpy, group, output: str, scale: float):
    material = bpy.data.materials.new(f"filtering {output}")
    material.use_nodes = True
    tree = material.node_tree
    tree.nodes.clear()
    coord, node = tree.nodes.new("ShaderNodeTexCoord"), tree.nodes.new("ShaderNodeGroup")
    node.node_tree = group
    node.inputs["Scale"].default_value = scale
    emit, out = tree.nodes.new("ShaderNodeEmission"), tree.nodes.new("ShaderNodeOutputMaterial")
    tree.links.new(coord.outputs["Object"], node.inputs["Vector"])
    tree.links.new(node.outputs[output], emit.inputs["Color"])
    tree.links.new(emit.outputs["Emission"], out.inputs["Surface"])
    return material


def edge_step_ratio(image: np.ndarray, vi: np.ndarray, vj: np.ndarray) -> float:
    """Mean step between horizontally or vertically neighbouring pixels where their triangles differ,
    over the mean step where they do not."""
    a = image.astype(np.float64).mean(axis=-1)
    ratios = []
    for axis in (0, 1):
        step = np.abs(np.diff(a, axis=axis))
        changes = np.any(np.diff(vi, axis=axis) != 0, axis=-1) | np.any(np.diff(vj, axis=axis) != 0, axis=-1)
        ratios.append((step[changes].mean(), step[~changes].mean(), changes.sum(), (~changes).sum()))
    edge = sum(m * n for m, _, n, _ in ratios) / sum(n for _, _, n, _ in ratios)
    rest = sum(m * n for _, m, _, n in ratios) / sum(n for _, _, _, n in ratios)
    return edge / rest


def main(args) -> dict:
    from PIL import Image

    import build

    work = Path(tempfile.mkdtemp(prefix="texgan-infinite-filtering-"))
    bpy = headless.start(work / "user")
    headless.install_extension(build.build(work / "dist"))

    def addon(name):
        import importlib
        return importlib.import_module(f"bl_ext.user_default.blender_texgan.{name}")

    core = addon("core.infinite")
    plane, result = headless.infinite_plane(args.model, 512, 0)
    assert result == {"FINISHED"}
    group = next(n.node_tree for n in plane.active_material.node_tree.nodes if n.bl_idname == "ShaderNodeGroup")
    model = addon("core.modelfile").read_model_file(addon("engine.library").resolve_model(args.model))
    prepared = core.prepare(model.exemplar, addon("engine.infinite").normal_strength(model.manifest))
    h, w = prepared.shape
    per_metre = w / args.scale                                  # exemplar pixels per metre
    centre = np.array([4 * prepared.cell, 2 * prepared.cell * core.ROW_FACTOR]) / per_metre  # vertex (3, 2)
    view = args.size / args.zoom / per_metre                    # metres across the render

    bpy.ops.object.camera_add(location=(centre[0], centre[1], 2.0))
    camera = bpy.context.active_object
    camera.data.type, camera.data.ortho_scale = "ORTHO", view
    scene = bpy.context.scene
    scene.camera = camera
    scene.render.engine, scene.cycles.device, scene.cycles.samples = "CYCLES", "CPU", args.samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = args.size
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"

    c = (np.arange(args.size) + 0.5) / args.size * view - view / 2  # pixel centres, metres from the centre
    x, y = np.meshgrid(centre[0] + c, centre[1] - c)
    vi, vj, _ = core.triangle(x * per_metre, y * per_metre, prepared.cell)
    images = [node for node in group.nodes if node.bl_idname == "ShaderNodeTexImage"]
    tiles, figures = [], {}
    for output in OUTPUTS:
        plane.data.materials.clear()
        plane.data.materials.append(_emission_material(bpy, group, output, args.scale))
        row = []
        for mode in MODES:
            for node in images:
                node.interpolation = mode
            scene.render.filepath = str(work / f"{output}_{mode}.png")
            bpy.ops.render.render(write_still=True)
            rgb = np.asarray(Image.open(scene.render.filepath).convert("RGB"), np.float32) / 255.0
            figures[(output, mode)] = edge_step_ratio(rgb, vi, vj)
            row.append(rgb)
        line = np.zeros(vi.shape[:2], bool)  # the triangle edges over the Linear render, faded
        line[:, 1:] |= np.any(np.diff(vi, axis=1) != 0, -1) | np.any(np.diff(vj, axis=1) != 0, -1)
        line[1:, :] |= np.any(np.diff(vi, axis=0) != 0, -1) | np.any(np.diff(vj, axis=0) != 0, -1)
        shown = row[1] * 0.6 + 0.4
        shown[line] = (0.8, 0.1, 0.1)
        row.append(shown)
        tiles.append(row)
    for node in images:
        node.interpolation = core.GAUSS_INTERPOLATION
    gap = np.ones((args.size, 6, 3), np.float32)
    rows = [np.concatenate(sum(([t, gap] for t in row), [])[:-1], axis=1) for row in tiles]
    picture = np.concatenate([rows[0], np.ones((6, rows[0].shape[1], 3), np.float32), rows[1]], axis=0)
    Path(args.picture).parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(picture, 0, 1) * 255 + 0.5).astype(np.uint8)).save(args.picture, quality=85, optimize=True)
    print(f"{args.model}: a {view:.3f} m view, {args.zoom:g} render px per exemplar px, {args.samples} samples; "
          f"picture {args.picture} ({Path(args.picture).stat().st_size // 1024} KB)")
    print("step across triangle edges / step elsewhere (1: no line):")
    for (output, mode), ratio in figures.items():
        print(f"  {output:10s} {mode:8s} {ratio:.2f}")
    return figures


if __name__ == "__main__":
    main(parse_args())
