"""Run as a script with bpy: Generate, then Ctrl+Z and Ctrl+Shift+Z, report JSON.

argv: ZIP MODEL OUT_JSON. Background Blender does not push undo steps for operators called from a
script, so this pushes the two steps the UI pushes around an UNDO operator: the state before, and
the operator's own step (named by its label) after it finishes.
"""
import json
import sys
from pathlib import Path

import numpy as np

from scripts import headless

zip_path, model, out = sys.argv[1:4]
bpy = headless.start()
headless.install_extension(zip_path)
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
Path(out).write_text(json.dumps({"result": sorted(result), "before": before, "generated": generated,
                                 "undone": undone, "redone": redone}))
