"""Run as a script with any Blender's bpy: validate and install the zip, generate, report JSON.

argv: ZIP OUT_JSON [MODEL]. Used by the version matrix (Blender 4.2 LTS, 4.5 LTS, 5.0).
"""
import json
import sys
from pathlib import Path

from scripts import headless  # noqa: E402  (after blocking torch)

zip_path, out = sys.argv[1:3]
model = sys.argv[3] if len(sys.argv) > 3 else ""
bpy = headless.start()
headless.validate_extension(zip_path)
headless.install_extension(zip_path)
bpy.ops.mesh.primitive_plane_add()
result = bpy.ops.texgan.generate_material(model=model, resolution=128, seed=0)
material = bpy.context.active_object.active_material
tree = material.node_tree
colorspaces = sorted(n.image.colorspace_settings.name for n in tree.nodes if n.bl_idname == "ShaderNodeTexImage")
nodes, links = sorted(n.bl_idname for n in tree.nodes), len(tree.links)

# The packed maps survive a save and reopen.
blend = str(Path(out).with_suffix(".blend"))
bpy.ops.wm.save_as_mainfile(filepath=blend)
bpy.ops.wm.open_mainfile(filepath=blend)
import numpy as np  # noqa: E402  (only needed from here on)

reopened = {}
for image in bpy.data.images:
    if image.name.startswith("TexGAN"):
        px = np.empty(image.size[0] * image.size[1] * 4, np.float32)
        image.pixels.foreach_get(px)
        reopened[image.name.rsplit(" ", 1)[-1]] = [list(image.size), image.packed_file is not None, float(px.std())]

# Image to Material reads an Image datablock's pixels (made seamless and separated into maps
# elsewhere: here neither, so no translator is needed).
photo = bpy.data.images.new("photo", 64, 64)
photo.pixels.foreach_set(np.linspace(0.0, 1.0, 64 * 64 * 4, dtype=np.float32))
bpy.ops.mesh.primitive_plane_add()
photo_result = bpy.ops.texgan.image_to_material(image="photo", seamless=False, maps=False)
photo_nodes = bpy.context.active_object.active_material.node_tree.nodes
photo_albedo = next(n.image for n in photo_nodes if n.bl_idname == "ShaderNodeTexImage" and n.label == "Albedo")

Path(out).write_text(json.dumps({
    "version": bpy.app.version_string,
    "result": sorted(result),
    "nodes": nodes,
    "links": links,
    "colorspaces": colorspaces,
    "reopened": reopened,
    "torch": "torch" in sys.modules,
    "photo": [sorted(photo_result), list(photo_albedo.size)],
}))
sys.stdout.flush()
# bpy 4.2 as a module segfaults at interpreter exit once any class was registered (seen with a
# one-operator script too, not specific to this add-on): all work is done, so leave directly.
__import__("os")._exit(0)
