"""Run as a script: one Blender whose Python cannot import torch (like a stock Blender) installs the
zip, then (1) Generate, Ctrl+Z and Ctrl+Shift+Z, then (2) generates with the zero-install engine and
asks for the torch engine. One process for both: starting Blender and installing the zip is most of
the cost. Reports JSON: {"undo": ..., "no_torch": ...}.

argv: ZIP MODEL OUT_JSON. Background Blender does not push undo steps for operators called from a
script, so (1) pushes the two steps the UI pushes around an UNDO operator: the state before, and
the operator's own step (named by its label) after it finishes.
"""
import json
import sys
from pathlib import Path

sys.modules["torch"] = None  # `import torch` now raises ImportError, as in a Blender without torch
import numpy as np  # noqa: E402

from scripts import headless  # noqa: E402  (after blocking torch)

zip_path, model, out = sys.argv[1:4]
bpy = headless.start()
headless.install_extension(zip_path)


# ---------------------------------------------------------------- (1) undo and redo

bpy.ops.mesh.primitive_plane_add()
bpy.context.active_object.name = "Target"


def state() -> dict:
    plane = bpy.data.objects["Target"]
    images = {}
    for image in bpy.data.images:
        if image.name.startswith("TexGAN"):
            px = np.empty(image.size[0] * image.size[1] * 4, np.float32)
            image.pixels.foreach_get(px)
            images[image.name] = [list(image.size), image.packed_file is not None, float(px.std())]
    return {"materials": sorted(m.name for m in bpy.data.materials if m.name.startswith("TexGAN")),
            "images": images,
            "active_material": plane.active_material.name if plane.active_material else None,
            "slots": len(plane.material_slots)}


bpy.ops.ed.undo_push(message="before")
before = state()
result = bpy.ops.texgan.generate_material(model=model, resolution=64, seed=5)
bpy.ops.ed.undo_push(message=bpy.types.TEXGAN_OT_generate_material.bl_label)
generated = state()
bpy.ops.ed.undo()
undone = state()
bpy.ops.ed.redo()
redone = state()
undo = {"result": sorted(result), "before": before, "generated": generated, "undone": undone, "redone": redone}


# ---------------------------------------------------------------- (2) the zero-install engine

bpy.ops.object.select_all(action="DESELECT")
bpy.ops.mesh.primitive_plane_add()
result = bpy.ops.texgan.generate_material(model=model, resolution=64, seed=3)
material = bpy.context.active_object.active_material
images = [n.image for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"]
torch_refused = False
try:
    bpy.ops.texgan.generate_material(model=model, resolution=64, seed=3, engine="torch")
except RuntimeError as exc:
    torch_refused = str(exc).strip()
no_torch = {"result": sorted(result), "material": material.name,
            "torch_loaded": "torch" in sys.modules and sys.modules["torch"] is not None,
            "image_sizes": [list(i.size) for i in images], "pixel_std": float(np.std(list(images[0].pixels)[:4096])),
            "torch_refused": torch_refused}

Path(out).write_text(json.dumps({"undo": undo, "no_torch": no_torch}))
