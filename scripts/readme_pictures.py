"""Regenerate the README's pictures headless: one Cycles render per bundled model, plus the maps
of the default model. Run: .venv/bin/python scripts/readme_pictures.py  (writes docs/images/)."""
from __future__ import annotations

import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import build  # noqa: E402
import headless  # noqa: E402

OUT = ROOT / "docs" / "images"
SIZE, SAMPLES, RESOLUTION = 384, 24, 512


def scene_setup(bpy):
    for obj in list(bpy.data.objects):
        bpy.data.objects.remove(obj)
    bpy.ops.mesh.primitive_plane_add(size=2.0)
    plane = bpy.context.active_object
    bpy.ops.object.camera_add(location=(0.0, -1.5, 1.3), rotation=(math.radians(50), 0.0, 0.0))
    bpy.context.scene.camera = bpy.context.active_object
    bpy.ops.object.light_add(type="SUN", rotation=(math.radians(45), math.radians(-25), math.radians(30)))
    bpy.context.active_object.data.energy = 3.5
    scene = bpy.context.scene
    scene.render.engine = "CYCLES"
    scene.cycles.device = "CPU"
    scene.cycles.samples = SAMPLES
    scene.render.resolution_x = scene.render.resolution_y = SIZE
    scene.texgan.real_size = 1.0
    return plane


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    bpy = headless.start()
    headless.install_extension(build.build(Path(tempfile.mkdtemp())))
    gen = sys.modules["bl_ext.user_default.blender_texgan.engine.generate"]
    png = sys.modules["bl_ext.user_default.blender_texgan.core.png"]
    for name in gen.bundled_models():
        plane = scene_setup(bpy)
        bpy.context.view_layer.objects.active = plane
        bpy.ops.texgan.generate_material(model=name, resolution=RESOLUTION, seed=0)
        bpy.context.scene.render.filepath = str(OUT / f"{name}.png")
        bpy.ops.render.render(write_still=True)
        print(OUT / f"{name}.png")
    maps, _ = gen.generate(gen.GenerationRequest(gen.default_model_name(), 256, 0))
    for map_name, array in maps.items():
        png.write_png(OUT / f"default_{map_name}.png", array)
    return 0


if __name__ == "__main__":
    sys.exit(main())
