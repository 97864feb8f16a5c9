"""The main job: build the add-on zip, install it into headless Blender like a user does, generate a
material with the bundled default model on a plane, render a Cycles preview on the CPU.

Writes out/demo.png and out/demo.blend. Run with `make demo`.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import build
from scripts import headless

ROOT = Path(__file__).resolve().parent.parent

OUT = ROOT / "out"
RESOLUTION, SEED = 1024, 0


def log(message: str, started: float) -> None:
    print(f"[{time.perf_counter() - started:6.1f} s] {message}", flush=True)


def configure_render(scene, path: Path) -> None:
    scene.cycles.use_denoising = False
    scene.render.filepath = str(path)
    if scene.world is not None and scene.world.use_nodes:
        background = scene.world.node_tree.nodes.get("Background")
        if background is not None:
            background.inputs["Strength"].default_value = 0.6


def main() -> int:
    started = time.perf_counter()
    OUT.mkdir(exist_ok=True)
    zip_path = build.build()
    log(f"built {zip_path}", started)
    bpy = headless.start()
    log(f"Blender {bpy.app.version_string} (headless, private user folder)", started)
    headless.validate_extension(zip_path)
    module = headless.install_extension(zip_path)
    log(f"installed and enabled {module}", started)

    headless.preview_scene(4.0, 2.4, 1.6, 60, (50, -20, 30), size=640, samples=32)
    bpy.context.scene.texgan.real_size = 2.0  # one texture repeat spans 2 m: 2 repeats on the 4 m plane
    t0 = time.perf_counter()
    result = bpy.ops.texgan.generate_material(resolution=RESOLUTION, seed=SEED)
    if result != {"FINISHED"}:
        print("generation failed", file=sys.stderr)
        return 1
    material = bpy.context.active_object.active_material
    log(f"generated '{material.name}' at {RESOLUTION}x{RESOLUTION} in {time.perf_counter() - t0:.1f} s", started)
    assert material.node_tree.nodes["Mapping"].inputs["Scale"].default_value[0] == 2.0  # 4 m plane, 2 m repeats

    scene = bpy.context.scene
    png, blend = OUT / "demo.png", OUT / "demo.blend"
    configure_render(scene, png)
    bpy.ops.render.render(write_still=True)
    log(f"rendered {png}", started)
    bpy.ops.wm.save_as_mainfile(filepath=str(blend), compress=True)
    log(f"saved {blend}", started)
    print(f"\npreview: {png}\nblend:   {blend}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
