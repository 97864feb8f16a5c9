"""Run as a script: a Blender whose Python cannot import torch installs the zip and generates.

argv: ZIP MODEL OUT_JSON. Blocks torch before anything imports it, like a stock Blender.
"""
import json
import sys
from pathlib import Path

sys.modules["torch"] = None  # `import torch` now raises ImportError, as in a Blender without torch
from scripts import headless  # noqa: E402  (after blocking torch)

zip_path, model, out = sys.argv[1:4]
bpy = headless.start()
headless.install_extension(zip_path)
bpy.ops.mesh.primitive_plane_add()
result = bpy.ops.texgan.generate_material(model=model, resolution=64, seed=3)
material = bpy.context.active_object.active_material
images = [n.image for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
torch_refused = False
try:
    bpy.ops.texgan.generate_material(model=model, resolution=64, seed=3, engine="torch")
except RuntimeError as exc:
    torch_refused = str(exc).strip()
Path(out).write_text(json.dumps({
    "result": sorted(result), "material": material.name, "torch_loaded": "torch" in sys.modules and sys.modules["torch"] is not None,
    "image_sizes": [list(i.size) for i in images], "pixel_std": float(__import__("numpy").std(list(images[0].pixels)[:4096])),
    "torch_refused": torch_refused}))
