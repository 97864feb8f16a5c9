"""Run as a script with bpy: the infinite group's Base Color through an emission shader, rendered
with EEVEE and with Cycles (and Cycles with another seed, to show what a wrong arrangement costs),
seen from above around a lattice vertex at 2 render pixels per exemplar pixel; then both again with
the group's image reads switched to Closest (EEVEE reads those without mip levels, so screen-space
derivatives play no part); then, as a control, a plain Image Texture node reading one of the
group's images at the object coordinates. Report JSON with the renders' statistics and timings, and
the differences from Cycles near the triangle grid's edges, elsewhere, and along the screen's
diagonal (where software OpenGL draws a dotted line into every mipmapped read, the control's too).

argv: ZIP MODEL SIZE OUT_JSON.
"""
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from scripts import headless
from scripts.infinite_eevee import line_figures, line_masks

zip_path, model, size, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
SCALE, SEED, ZOOM, SAMPLES = 1.0, 3, 2.0, 8
bpy = headless.start()
headless.install_extension(zip_path)
from bl_ext.user_default.blender_texgan.core import infinite as core  # noqa: E402  (after the install)
from bl_ext.user_default.blender_texgan.core.synthesis.tiling_blend import CELL_FRACTION  # noqa: E402

items = [e.identifier for e in bpy.types.RenderSettings.bl_rna.properties["engine"].enum_items]
eevee = "BLENDER_EEVEE_NEXT" if "BLENDER_EEVEE_NEXT" in items else "BLENDER_EEVEE"  # 4.2-4.5 / 5.0
plane, result = headless.infinite_plane(model, 64, SEED)
group = next(n.node_tree for n in plane.active_material.node_tree.nodes if n.bl_idname == "ShaderNodeGroup")
image = next(n.image for n in group.nodes if n.bl_idname == "ShaderNodeTexImage")
width = image.size[0]
cell = max(2.0, CELL_FRACTION * min(image.size))  # core.infinite.prepare's cell
per_metre = width / SCALE
material = bpy.data.materials.new("eevee probe")
material.use_nodes = True
tree = material.node_tree
tree.nodes.clear()
coord, node = tree.nodes.new("ShaderNodeTexCoord"), tree.nodes.new("ShaderNodeGroup")
node.node_tree = group
node.inputs["Scale"].default_value, node.inputs["Seed"].default_value = SCALE, SEED
emit, output = tree.nodes.new("ShaderNodeEmission"), tree.nodes.new("ShaderNodeOutputMaterial")
tree.links.new(coord.outputs["Object"], node.inputs["Vector"])
tree.links.new(node.outputs["Base Color"], emit.inputs["Color"])
tree.links.new(emit.outputs["Emission"], output.inputs["Surface"])
plane.data.materials.clear()
plane.data.materials.append(material)

# lattice vertex (3, 2), off the plane's own diagonal; the view: SIZE / ZOOM exemplar pixels across
centre = (4 * cell / per_metre, 2 * cell * core.ROW_FACTOR / per_metre)
bpy.ops.object.camera_add(location=(*centre, 2.0))
camera = bpy.context.active_object
camera.data.type, camera.data.ortho_scale = "ORTHO", size / ZOOM / per_metre
scene = bpy.context.scene
scene.camera = camera
scene.render.resolution_x = scene.render.resolution_y = size
scene.render.resolution_percentage = 100
scene.render.image_settings.file_format = "PNG"
scene.view_settings.view_transform = "Standard"
scene.cycles.device, scene.cycles.samples, scene.cycles.use_denoising = "CPU", SAMPLES, False
scene.eevee.taa_render_samples = SAMPLES
folder = Path(tempfile.mkdtemp(prefix="texgan-eevee-"))
timings = {}


def render(engine: str, name: str):
    """(rows x cols x RGB in 8-bit steps, seconds): the PNG read back through bpy (no Pillow in
    every Blender's environment); an 8-bit image's pixels are its stored sRGB values / 255."""
    scene.render.engine = engine
    scene.render.filepath = str(folder / f"{name}.png")
    start = time.perf_counter()
    bpy.ops.render.render(write_still=True)
    seconds = time.perf_counter() - start
    timings[name] = round(seconds, 2)
    image = bpy.data.images.load(scene.render.filepath, check_existing=False)
    px = np.empty(size * size * 4, np.float32)
    image.pixels.foreach_get(px)
    bpy.data.images.remove(image)
    return np.round(px.reshape(size, size, 4)[::-1, :, :3].astype(np.float64) * 255.0), seconds


edge, diagonal = line_masks(core, centre, camera.data.ortho_scale, size, per_metre, cell)
eevee_rgb, eevee_s = render(eevee, "eevee")
cycles_rgb, cycles_s = render("CYCLES", "cycles")
reads = [n for n in group.nodes if n.bl_idname == "ShaderNodeTexImage"]
interpolation = reads[0].interpolation
for n in reads:  # EEVEE reads Closest images without mip levels: no screen-space derivatives
    n.interpolation = "Closest"
eevee_closest, _ = render(eevee, "eevee_closest")
cycles_closest, _ = render("CYCLES", "cycles_closest")
for n in reads:
    n.interpolation = interpolation
node.inputs["Seed"].default_value = SEED + 1
other_rgb, _ = render("CYCLES", "other_seed")
# the control: a plain Image Texture node (Linear) at the object coordinates, one exemplar per SCALE metres
texture = tree.nodes.new("ShaderNodeTexImage")
texture.image, texture.interpolation = image, "Linear"
tree.links.new(coord.outputs["Object"], texture.inputs["Vector"])
tree.links.new(texture.outputs["Color"], emit.inputs["Color"])
plain_eevee, _ = render(eevee, "plain_eevee")
plain_cycles, _ = render("CYCLES", "plain_cycles")
Path(out).write_text(json.dumps({
    "result": sorted(result), "engine": eevee, "eevee_s": eevee_s, "cycles_s": cycles_s, "seconds": timings,
    "interpolation": interpolation,
    "mad": float(np.abs(eevee_rgb - cycles_rgb).mean()),                # 8-bit sRGB steps
    "mad_closest": float(np.abs(eevee_closest - cycles_closest).mean()),
    "mad_other_seed": float(np.abs(eevee_rgb - other_rgb).mean()),
    "linear": line_figures(eevee_rgb, cycles_rgb, edge, diagonal, 1.0),
    "closest": line_figures(eevee_closest, cycles_closest, edge, diagonal, 1.0),
    "plain": line_figures(plain_eevee, plain_cycles, edge, diagonal, 1.0), "edge_fraction": float(edge.mean()),
    "mean_eevee": eevee_rgb.mean(axis=(0, 1)).tolist(), "mean_cycles": cycles_rgb.mean(axis=(0, 1)).tolist(),
    "std_eevee": float(eevee_rgb.std()), "std_cycles": float(cycles_rgb.std()),
    "pink": float((np.abs(eevee_rgb - (255.0, 0.0, 255.0)).max(axis=-1) < 12).mean())}))
