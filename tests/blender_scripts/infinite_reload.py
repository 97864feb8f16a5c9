"""Run as a script with bpy: an infinite material with Output = Save next to the .blend; the .blend
saved and reopened (the group's images read back, its table curves still there), a second object
given the same model and undone and redone, and the material appended into an empty file; report
JSON.

argv: ZIP MODEL BLEND OUT_JSON. Background Blender pushes no undo steps for operators called from a
script, so this pushes the two the UI pushes around an UNDO operator.
"""
import json
import sys
from pathlib import Path

import numpy as np

from scripts import headless

zip_path, model, blend, out = sys.argv[1:5]
bpy = headless.start()
headless.install_extension(zip_path)
bpy.ops.wm.save_as_mainfile(filepath=blend)
bpy.ops.mesh.primitive_plane_add()
settings = bpy.context.scene.texgan
settings.surface, settings.output = "INFINITE", "SAVE"
result = bpy.ops.texgan.generate_material(model=model, resolution=64, seed=4)


def group_images():
    group = next(g for g in bpy.data.node_groups if g.get("texgan_infinite"))
    return {n.image.name: n.image for n in group.nodes if n.bl_idname == "ShaderNodeTexImage"}


def pixels(image):
    px = np.empty(image.size[0] * image.size[1] * 4, np.float32)
    image.pixels.foreach_get(px)
    return px


def counts():
    return {"materials": len(bpy.data.materials), "groups": len(bpy.data.node_groups),
            "images": len(bpy.data.images)}


before = {name: pixels(image) for name, image in group_images().items()}
images = {name: {"path": image.filepath, "packed": image.packed_file is not None,
                 "colorspace": image.colorspace_settings.name} for name, image in group_images().items()}
material_name = bpy.data.objects["Plane"].active_material.name
bpy.ops.wm.save_mainfile()
bpy.ops.wm.open_mainfile(filepath=blend)
material = bpy.data.objects["Plane"].active_material
groups = [g for g in bpy.data.node_groups if g.get("texgan_infinite")]
uses = material is not None and any(n.bl_idname == "ShaderNodeGroup" and n.node_tree == groups[0]
                                    for n in material.node_tree.nodes)
after = {name: pixels(image) for name, image in group_images().items()}
curves = [n.mapping.curves for n in groups[0].nodes if n.bl_idname == "ShaderNodeVectorCurve"]
reloaded = {"groups": len(groups), "material_uses_group": bool(uses),
            "curve_points": [[len(c.points) for c in mapping] for mapping in curves],
            "pixels_equal": all(np.array_equal(before[k], after[k]) for k in before) and len(after) == len(before) > 0}

bpy.ops.mesh.primitive_plane_add(location=(3.0, 0.0, 0.0))
bpy.context.scene.texgan.surface = "INFINITE"
bpy.ops.ed.undo_push(message="before")
undo = {"before": counts()}
bpy.ops.texgan.generate_material(model=model, resolution=64, seed=5)
bpy.ops.ed.undo_push(message=bpy.types.TEXGAN_OT_generate_material.bl_label)
undo["made"] = counts()
bpy.ops.ed.undo()
undo["undone"] = counts()
bpy.ops.ed.redo()
undo["redone"] = counts()

bpy.ops.wm.read_homefile(use_empty=True)
bpy.ops.wm.append(directory=f"{blend}/Material/", filename=material_name)
appended = {"material": material_name in bpy.data.materials,
            "images_equal": len(group_images()) == len(before) > 0 and all(
                np.array_equal(before[k], pixels(v)) for k, v in group_images().items())}
Path(out).write_text(json.dumps({
    "result": sorted(result), "images": images, "reloaded": reloaded, "undo": undo, "appended": appended,
    "files": sorted(p.name for p in (Path(blend).parent / "textures").iterdir())}))
