"""A 20 m plane seen from above, (a) with a baked material tiled by its real-world size and (b) with
the infinite material (issue 24): renders, repetition, Cycles times and the group's build time.

    .venv/bin/python scripts/infinite_renders.py [--model sand_rocks] [--size 512] [--samples 8]

Builds the add-on's zip, installs it into a private headless Blender, renders both with Cycles on
the CPU at the same samples, and writes its section of benchmarks/results/infinite.txt (the other
scripts' sections are kept) and docs/infinite/*.jpg.
Repetition (trainer.repetition): the render's autocorrelation at the bake's tile period over the
photo's (the exemplar albedo's) own level at the same distance.
"""
from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from scripts import headless

ROOT = Path(__file__).resolve().parent.parent
PLANE_M = 20.0
TILE_M = 1.0        # the bake's real-world size: it repeats every metre


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="sand_rocks", help="bundled model (a stochastic one shows repetition best)")
    p.add_argument("--size", type=int, default=512, help="render side in pixels")
    p.add_argument("--bake", type=int, default=512,
                   help="baked maps' side in pixels (one tile; at 1024 the 1024 px exemplar is one tile wide, too "
                        "small for the photo's own level at that lag; the speed bar's 1024: scripts/infinite_profile.py)")
    p.add_argument("--samples", type=int, default=8, help="Cycles samples for both renders")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--rounds", type=int, default=5,
                   help="renders of each, alternating; the median of the rounds' ratios counts (and the fastest)")
    p.add_argument("--results", default=str(ROOT / "benchmarks" / "results" / "infinite.txt"))
    p.add_argument("--pictures", default=str(ROOT / "docs" / "infinite"))
    return p.parse_args(argv)


def scene_from_above(bpy, size: int, samples: int):
    """Empty scene, the plane (active), an orthographic camera seeing exactly the plane, a low sun."""
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    bpy.ops.mesh.primitive_plane_add(size=PLANE_M)
    plane = bpy.context.active_object
    bpy.ops.object.camera_add(location=(0.0, 0.0, 10.0))
    camera = bpy.context.active_object
    camera.data.type, camera.data.ortho_scale = "ORTHO", PLANE_M
    scene = bpy.context.scene
    scene.camera = camera
    bpy.ops.object.light_add(type="SUN", rotation=(math.radians(35), 0.0, math.radians(30)))
    bpy.context.active_object.data.energy = 3.0
    bpy.context.view_layer.objects.active = plane
    plane.select_set(True)
    scene.render.engine, scene.cycles.device, scene.cycles.samples = "CYCLES", "CPU", samples
    scene.cycles.use_denoising = False
    scene.render.resolution_x = scene.render.resolution_y = size
    scene.render.resolution_percentage = 100
    scene.render.image_settings.file_format = "PNG"
    scene.view_settings.view_transform = "Standard"
    return plane


def render(bpy, path: Path) -> tuple[np.ndarray, tuple[float, float]]:
    """Render to `path` (PNG); (RGB in [0, 1], (wall seconds, CPU seconds of all threads)). On a
    machine shared with other jobs the CPU seconds are the steadier measure of the shader's cost."""
    from PIL import Image

    scene = bpy.context.scene
    scene.render.filepath = str(path)
    start, cpu = time.perf_counter(), time.process_time()
    bpy.ops.render.render(write_still=True)
    seconds = (time.perf_counter() - start, time.process_time() - cpu)
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0, seconds


def render_both(bpy, plane, materials: dict, folder: Path, rounds: int) -> tuple[dict, dict]:
    """Each material rendered `rounds` times, alternating (a shared machine's load hits both alike);
    (RGB per material, [(wall, CPU) seconds per round] per material)."""
    renders, seconds = {}, {key: [] for key in materials}
    for _ in range(rounds):
        for key, material in materials.items():
            plane.data.materials.clear()
            plane.data.materials.append(material)
            renders[key], s = render(bpy, folder / f"{key}.png")
            seconds[key].append(s)
    return renders, seconds


def group_build_seconds(addon, prepared, repeats: int = 3) -> tuple[float, float]:
    """(nodes only, nodes and packed images) build time of the group on the main thread (the PNGs
    encoded beforehand, on the worker, as the operator does), best of `repeats`."""
    import bpy

    infinite = addon("blender.infinite")
    nodes, full = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        images = infinite.make_images(prepared, "timing", "PACK")
        middle = time.perf_counter()
        group = infinite.build_group(prepared, images, "timing", 0.01)
        end = time.perf_counter()
        nodes.append(end - middle)
        full.append(end - start)
        bpy.data.node_groups.remove(group)
        for image in images.values():
            bpy.data.images.remove(image)
    return min(nodes), min(full)


def save_jpeg(rgb: np.ndarray, path: Path, quality: int = 85) -> int:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)).save(path, quality=quality, optimize=True)
    return path.stat().st_size


def make_materials(bpy, args) -> dict:
    """Generate (a) the baked tile and (b) the infinite material on the plane; their materials."""
    settings = bpy.context.scene.texgan
    settings.real_size, settings.target, settings.output = TILE_M, "ACTIVE", "PACK"
    out = {}
    for surface in ("BAKED", "INFINITE"):
        settings.surface = surface
        start = time.perf_counter()
        result = bpy.ops.texgan.generate_material(model=args.model, resolution=args.bake, seed=args.seed)
        assert result == {"FINISHED"}, result
        out[surface] = (bpy.context.active_object.active_material, time.perf_counter() - start)
    return out


def main(args) -> dict:
    import build
    from trainer.repetition import repetition_ratio

    work = Path(tempfile.mkdtemp(prefix="texgan-infinite-"))
    bpy = headless.start(work / "user")
    headless.install_extension(build.build(work / "dist"))

    def addon(name):
        import importlib
        return importlib.import_module(f"bl_ext.user_default.blender_texgan.{name}")

    plane = scene_from_above(bpy, args.size, args.samples)
    materials = make_materials(bpy, args)
    model = addon("core.modelfile").read_model_file(addon("engine.library").resolve_model(args.model))
    core = addon("core.infinite")
    prepared = core.with_png(core.prepare(model.exemplar, addon("engine.infinite").normal_strength(model.manifest)))
    figures = {"model": args.model, "size": args.size, "bake": args.bake, "samples": args.samples,
               "rounds": args.rounds}
    period = args.size * TILE_M / PLANE_M                    # the bake's tile, in render pixels
    scale = TILE_M * prepared.shape[1] / args.bake           # the exemplar's width in metres (same features)
    photo_period = prepared.shape[1] * TILE_M / scale        # one tile, in exemplar pixels
    load_before = os.getloadavg()
    renders, seconds = render_both(bpy, plane, {k: m for k, (m, _) in materials.items()}, work, args.rounds)
    figures["load"] = (load_before, os.getloadavg())  # 1, 5, 15-minute load averages, before and after
    for surface, (_, made) in materials.items():
        rep = repetition_ratio(renders[surface], period, model.exemplar[..., :3], photo_period)
        figures[surface] = {"make_s": made, "render_s": min(w for w, _ in seconds[surface]),
                            "median_s": float(np.median([w for w, _ in seconds[surface]])),
                            "median_cpu_s": float(np.median([c for _, c in seconds[surface]])),
                            "render_cpu_s": min(c for _, c in seconds[surface]), "rounds_s": seconds[surface], **rep}
    figures["render_ratio"] = figures["INFINITE"]["render_s"] / figures["BAKED"]["render_s"]
    figures["render_cpu_ratio"] = figures["INFINITE"]["render_cpu_s"] / figures["BAKED"]["render_cpu_s"]
    # each round's (b)/(a), the two renders run back to back: their median shrugs off a busy spell
    paired = [(b[0] / a[0], b[1] / a[1]) for a, b in zip(seconds["BAKED"], seconds["INFINITE"])]
    figures["paired_ratio"] = float(np.median([w for w, _ in paired]))
    figures["paired_cpu_ratio"] = float(np.median([c for _, c in paired]))
    figures["group_nodes_s"], figures["group_with_images_s"] = group_build_seconds(addon, prepared)
    pictures = Path(args.pictures)
    figures["jpeg_bytes"] = {
        "baked.jpg": save_jpeg(renders["BAKED"], pictures / "baked.jpg"),
        "infinite.jpg": save_jpeg(renders["INFINITE"], pictures / "infinite.jpg"),
        "side_by_side.jpg": save_jpeg(np.concatenate([renders["BAKED"], np.ones((args.size, 8, 3)),
                                                      renders["INFINITE"]], axis=1), pictures / "side_by_side.jpg")}
    write_results(Path(args.results), figures)
    return figures


SECTION = "## "  # a results file is sections, each from a line "## <title>" to the next such line


def write_section(path: Path, title: str, lines: list[str]) -> None:
    """Put `lines` under "## title" in the results file at `path`: that section replaced (or added
    at the end), every other section (another script's, or figures written by hand) kept as it is."""
    sections: list[list[str]] = []
    if path.exists():
        for line in path.read_text().splitlines():
            if line.startswith(SECTION) or not sections:
                sections.append([])
            sections[-1].append(line)
    block = [SECTION + title, *lines]
    for i, section in enumerate(sections):
        if section[0] == SECTION + title:
            sections[i] = block + [""]
            break
    else:
        if sections and sections[-1][-1:] != [""]:
            sections[-1].append("")
        sections.append(block + [""])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(line for section in sections for line in section).rstrip("\n") + "\n")


def write_results(path: Path, f: dict) -> None:
    lines = [
        f"model {f['model']}; a {PLANE_M:.0f} m plane from above, orthographic, {f['size']}^2 px, Cycles CPU, "
        f"{f['samples']} samples, no denoising; (a) a {f['bake']}^2 bake tiled every {TILE_M:g} m, (b) the infinite "
        "material with the same feature size",
        "",
        "repetition: autocorrelation at the tile period (render) / the photo's own level at that distance",
    ]
    for key, label in (("BAKED", "(a) baked, tiled"), ("INFINITE", "(b) infinite")):
        r = f[key]
        lines.append(f"  {label:18s} peak {r['peak']:.3f}  photo level {r['photo_level']:.3f}  ratio {r['ratio']:.2f}"
                     f"  (target: (a) shows a peak, (b) <= 1.2)")
    lines += [
        "",
        f"Cycles render time (fastest of {f['rounds']}, alternating, same samples):",
        f"  wall: (a) {f['BAKED']['render_s']:.2f} s   (b) {f['INFINITE']['render_s']:.2f} s   "
        f"(b)/(a) {f['render_ratio']:.2f}  (target <= 1.5)",
        f"  CPU (all threads): (a) {f['BAKED']['render_cpu_s']:.2f} s   (b) {f['INFINITE']['render_cpu_s']:.2f} s   "
        f"(b)/(a) {f['render_cpu_ratio']:.2f}  (steadier on a shared machine)",
        f"  medians: wall (a) {f['BAKED']['median_s']:.2f} s (b) {f['INFINITE']['median_s']:.2f} s; CPU (a) "
        f"{f['BAKED']['median_cpu_s']:.2f} s (b) {f['INFINITE']['median_cpu_s']:.2f} s",
        f"  median of each round's (b)/(a): wall {f['paired_ratio']:.2f}, CPU {f['paired_cpu_ratio']:.2f}  (target <= 1.5)",
        "  load average (1/5/15 min) before, after: " + ", ".join(" / ".join(f"{x:.1f}" for x in l) for l in f["load"])
        + f" on {os.cpu_count()} cores",
        "  every round, (a) then (b), CPU s: " + "  ".join(
            f"{a[1]:.2f}/{b[1]:.2f}" for a, b in zip(f["BAKED"]["rounds_s"], f["INFINITE"]["rounds_s"])),
        f"material made: (a) {f['BAKED']['make_s']:.2f} s (generating the bake)   (b) {f['INFINITE']['make_s']:.2f} s "
        "(reading the exemplar and preparing its tables)",
        f"group build: nodes {f['group_nodes_s']:.3f} s, with its two packed images {f['group_with_images_s']:.3f} s"
        "  (target <= 0.5 s)",
        "EEVEE: scripts/infinite_eevee.py (its own section)",
        "pictures: " + ", ".join(f"docs/infinite/{k} ({v // 1024} KB)" for k, v in f["jpeg_bytes"].items()),
    ]
    write_section(path, "Infinite materials (issue 24): scripts/infinite_renders.py", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main(parse_args())
