"""Where the infinite material's render time goes (issue 24): the same scene as
scripts/infinite_renders.py, rendered with parts of the node group bypassed (muted nodes pass
their first input through), alternating, CPU seconds of all threads, fastest of `--rounds`.

    .venv/bin/python -m scripts.infinite_profile [--size 256] [--bake 1024] [--samples 8] [--rounds 3]
        [--variants full,no image reads] [--old DIR] [--results benchmarks/results/infinite.txt]

Prints one line per variant: median CPU seconds, the median of the rounds' ratios to the baked
material (each round renders every variant in turn, so a busy spell hits them alike) and the
fastest; --results writes the same lines as this script's section of the results file. A bypassed
variant's picture is wrong, its cost is what counts. --old DIR: a folder holding an earlier copy of
the add-on as the package blender_texgan_old (e.g. `git archive <commit> blender_texgan`, renamed),
whose group is rendered in the same session too, for a before/after on equal terms.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from scripts import headless
from scripts.infinite_renders import make_materials, scene_from_above, write_section

IMAGE = "ShaderNodeTexImage"


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sand_rocks")
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--bake", type=int, default=1024, help="the baked material's side (the issue's 1024)")
    p.add_argument("--samples", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--variants", default="all", help="comma-separated variant names, or all")
    p.add_argument("--old", default="", help="folder holding an earlier copy of the add-on as blender_texgan_old")
    p.add_argument("--results", default="", help="results file to write this run's section into (e.g. "
                   "benchmarks/results/infinite.txt; the other sections are kept)")
    return p.parse_args(argv)


def _variants(group):
    """name -> predicate of the group's nodes to mute, or (interpolation, extension) of its image reads."""
    return {
        "full": lambda n: False,
        "gauss reads Closest": ("Closest", "EXTEND"),
        "gauss reads Cubic": ("Cubic", "EXTEND"),
        "gauss reads Linear EXTEND": ("Linear", "EXTEND"),
        "gauss reads Linear REPEAT": ("Linear", "REPEAT"),
        "relief image 8-bit": "relief 8-bit",
        "no white noise": lambda n: n.bl_idname == "ShaderNodeTexWhiteNoise",
        "no table curves": lambda n: n.bl_idname == "ShaderNodeVectorCurve",
        "no image reads": lambda n: n.bl_idname == IMAGE,
        "no reads, no noise": lambda n: n.bl_idname in (IMAGE, "ShaderNodeTexWhiteNoise"),
    }


def _old_material(bpy, args, node):
    """The earlier add-on's infinite material for the same model, seed and Scale as `node`'s."""
    sys.path.insert(0, args.old)
    from blender_texgan_old.blender import infinite as old
    from blender_texgan_old.core import infinite as old_core
    from blender_texgan_old.core.modelfile import read_model_file
    from blender_texgan_old.engine.infinite import normal_strength
    from blender_texgan_old.engine.library import resolve_model

    model = read_model_file(resolve_model(args.model))
    prepared = old_core.with_png(old_core.prepare(model.exemplar, normal_strength(model.manifest)))
    images = old.make_images(prepared, "old", "PACK")
    group = old.build_group(prepared, images, "old group", 0.01)
    material = bpy.data.materials.new("old infinite")
    material.use_nodes = True
    old.build_infinite_tree(material.node_tree, group, node.inputs["Scale"].default_value, args.seed)
    return material


def main(args):
    import build

    work = Path(tempfile.mkdtemp(prefix="texgan-infinite-profile-"))
    bpy = headless.start(work / "user")
    headless.install_extension(build.build(work / "dist"))
    plane = scene_from_above(bpy, args.size, args.samples)
    materials = {k: m for k, (m, _) in make_materials(bpy, args).items()}
    node = next(n for n in materials["INFINITE"].node_tree.nodes if n.bl_idname == "ShaderNodeGroup")
    group = node.node_tree
    group_line = f"group: {len(group.nodes)} nodes, {sum(n.bl_idname == IMAGE for n in group.nodes)} image reads"
    print(group_line)
    load = os.getloadavg()
    variants = _variants(group)
    chosen = list(variants) if args.variants == "all" else args.variants.split(",")
    names = ["baked", *chosen]
    if args.old:
        materials["old"] = _old_material(bpy, args, node)
        names.insert(1, "old")
    scene = bpy.context.scene
    scene.render.filepath = str(work / "render.png")
    times = {name: [] for name in names}
    own = {n.name: (n.interpolation, n.extension) for n in group.nodes if n.bl_idname == IMAGE}
    originals = {n.name: n.image for n in group.nodes if n.bl_idname == IMAGE}
    byte_copies = {}
    for image in set(originals.values()):  # the same pixels at 8 bits: the memory traffic of a byte image
        if image.name.endswith("relief"):
            copy = bpy.data.images.new(image.name + " 8-bit", *image.size, alpha=True, float_buffer=False)
            copy.colorspace_settings.name, copy.alpha_mode = "Non-Color", "CHANNEL_PACKED"
            copy.pixels.foreach_set(image.pixels[:])
            copy.pack()
            byte_copies[image.name] = copy
    for _ in range(args.rounds):
        for name in times:
            plane.data.materials.clear()
            plane.data.materials.append(materials.get({"baked": "BAKED"}.get(name, name), materials["INFINITE"]))
            if name in variants:
                change = variants[name]
                for n in group.nodes:
                    if n.bl_idname == IMAGE:
                        n.image = byte_copies.get(originals[n.name].name, originals[n.name]) if change == "relief 8-bit" \
                            else originals[n.name]
                for n in group.nodes:
                    n.mute = callable(change) and bool(change(n))
                    if n.bl_idname == IMAGE:
                        n.interpolation, n.extension = change if isinstance(change, tuple) else own[n.name]
            cpu = time.process_time()
            bpy.ops.render.render(write_still=False)
            times[name].append(time.process_time() - cpu)
    base = min(times["baked"])
    lines = [f"model {args.model}, {args.size}^2 px, {args.samples} samples, Cycles CPU, the 20 m plane from above; "
             f"baked: {args.bake}^2 tile every 1 m; the infinite material with the same feature size",
             f"{group_line}; {args.rounds} rounds, each renders every variant in turn (CPU seconds of all threads)",
             f"load average (1/5/15 min) before: {' / '.join(f'{x:.1f}' for x in load)}, after: "
             f"{' / '.join(f'{x:.1f}' for x in os.getloadavg())} on {os.cpu_count()} cores"]
    for name, t in times.items():
        paired = statistics.median(a / b for a, b in zip(t, times["baked"]))  # rendered in the same round
        lines.append(f"  {name:26s} median {statistics.median(t):6.2f} s, median of the rounds' ratios to baked "
                     f"x{paired:.2f}; fastest {min(t):6.2f} s (x{min(t) / base:.2f}); all: {' '.join(f'{s:.2f}' for s in t)}")
    print("\n".join(lines))
    if args.results:
        write_section(Path(args.results), f"Speed (issue 24): scripts/infinite_profile.py --bake {args.bake}", lines)


if __name__ == "__main__":
    main(parse_args())
