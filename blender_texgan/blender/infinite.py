"""Infinite materials in Blender: the node group that tiles and blends a model's exemplar per
shading point (Heitz & Neyret's histogram-preserving blend), its images, and the material.

The maths is core.infinite's, node for node: its ``evaluate`` is the numpy reference of the group
built here. One group per exemplar (keyed by core.infinite.exemplar_key), shared by every material
made from it; Seed, Scale and Blend Sharpness are the group node's inputs, so materials with other
seeds reuse it too. Takes trees and datablocks as arguments; only this module's callers assign.
"""
from __future__ import annotations

from pathlib import Path

import bpy

from ..core.infinite import (
    GAUSS_CODE,
    GAUSS_EXTENSION,
    GAUSS_INTERPOLATION,
    IMAGE_BITS,
    ROW_FACTOR,
    InfiniteImages,
    curve_grid,
)
from ..core.maps import NON_COLOR
from ..core.options import MaterialOptions, texture_file_name
from ..core.png import encode_png
from . import sockets as S
from .images import image_from_png, textures_folder

KEY = "texgan_infinite"        # custom property on the group: the exemplar's key
VERSION = "texgan_infinite_version"  # custom property on the group: its layout, GROUP_VERSION
GROUP_VERSION = 2              # 2: slots by vertex colour (no EEVEE lines); a group of another layout is not reused
GROUP_PREFIX = "TEXGAN Infinite"
IMAGE_PARTS = ("gauss albedo", "relief")
VECTOR_CURVES = "ShaderNodeVectorCurve"  # the tables: one curve per channel
MIX = "ShaderNodeMix"                  # picks each slot's vertex and weight
STEP = 180                     # node spacing in the group, pixels


# ---------------------------------------------------------------- images

def _integer_image(name: str, data: bytes, folder: Path | None, file_name: str) -> bpy.types.Image:
    """A Non-Color image of PNG bytes: packed, or written beside the .blend and loaded with a relative
    path. Its alpha, if any, is a fourth data channel (Channel Packed: never multiplied into colour)."""
    if folder is None:
        image = image_from_png(name, data, NON_COLOR, file_name)
    else:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / file_name).write_bytes(data)
        image = bpy.data.images.load(str(folder / file_name), check_existing=False)
        image.name = name
        image.colorspace_settings.name = NON_COLOR
        image.filepath = _relative(folder / file_name)
    image.alpha_mode = "CHANNEL_PACKED"
    return image


def _relative(path: Path) -> str:
    try:
        return bpy.path.relpath(str(path))
    except ValueError:  # another drive on Windows: keep the absolute path
        return str(path)


def make_images(prepared: InfiniteImages, label: str, output: str) -> dict[str, bpy.types.Image]:
    """The group's two images, packed or saved beside the .blend as `output` (PACK / SAVE) says."""
    folder = textures_folder() if output == "SAVE" else None
    arrays = (prepared.gauss_albedo, prepared.relief)
    images: dict[str, bpy.types.Image] = {}
    try:
        for part, array in zip(IMAGE_PARTS, arrays):
            name = f"{GROUP_PREFIX} {label} {part}"
            file_name = texture_file_name(f"{GROUP_PREFIX} {label}", part.replace(" ", "_"), "png")
            data = prepared.png.get(part) or encode_png(array, IMAGE_BITS[part])  # encoded on the worker
            images[part] = _integer_image(name, data, folder, file_name)
    except Exception:
        for image in images.values():
            bpy.data.images.remove(image)
        raise
    return images


# ---------------------------------------------------------------- a small node-building helper

class Nodes:
    """Adds nodes to a tree and links sockets or sets values: `math("ADD", a, 1.0)` -> socket."""

    def __init__(self, tree):
        self.tree, self.column, self.row = tree, 0, 0

    def add(self, idname: str, **attrs):
        node = self.tree.nodes.new(idname)
        node.location = (self.column * STEP, -self.row * 60)
        self.row += 1
        for name, value in attrs.items():
            setattr(node, name, value)
        return node

    def feed(self, socket, value) -> None:
        if isinstance(value, bpy.types.NodeSocket):
            self.tree.links.new(value, socket)
        else:
            socket.default_value = value

    def next_column(self) -> None:
        self.column, self.row = self.column + 1, 0

    def math(self, op: str, *args, clamp: bool = False):
        node = self.add(S.MATH, operation=op, use_clamp=clamp, hide=True)
        for identifier, value in zip(("Value", "Value_001", "Value_002"), args):
            self.feed(S.socket_by_identifier(node.inputs, identifier), value)
        return node.outputs[0]

    def vec(self, op: str, a, b=None, c=None, scale=None):
        node = self.add(S.VECTOR_MATH, operation=op, hide=True)
        for identifier, value in zip(("Vector", "Vector_001", "Vector_002"), (a, b, c)):
            if value is not None:
                self.feed(S.socket_by_identifier(node.inputs, identifier), value)
        if scale is not None:
            self.feed(S.find_socket(node.inputs, "Scale"), scale)
        return S.find_socket(node.outputs, "Value" if op == "DOT_PRODUCT" else "Vector")

    def combine(self, x, y, z=0.0):
        node = self.add(S.COMBINE_XYZ, hide=True)
        for name, value in zip(("X", "Y", "Z"), (x, y, z)):
            self.feed(S.find_socket(node.inputs, name), value)
        return S.find_socket(node.outputs, "Vector")

    def mix(self, kind: str, factor, a, b):
        """A Mix node of FLOAT or VECTOR values: a where factor is 0, b where it is 1."""
        node = self.add(MIX, data_type=kind, hide=True)
        suffix = "Float" if kind == "FLOAT" else "Vector"
        for identifier, value in (("Factor_Float", factor), (f"A_{suffix}", a), (f"B_{suffix}", b)):
            self.feed(S.socket_by_identifier(node.inputs, identifier), value)
        return S.socket_by_identifier(node.outputs, f"Result_{suffix}")

    def separate(self, vector):
        node = self.add(S.SEPARATE_XYZ, hide=True)
        self.feed(S.find_socket(node.inputs, "Vector"), vector)
        return [S.find_socket(node.outputs, name) for name in ("X", "Y", "Z")]

    def texture(self, image, vector, interpolation: str, extension: str):
        node = self.add(S.IMAGE, image=image, interpolation=interpolation, extension=extension)
        node.hide = True
        self.feed(S.find_socket(node.inputs, "Vector"), vector)
        return S.find_socket(node.outputs, "Color")


# ---------------------------------------------------------------- the group

GROUP_INPUTS = (  # name, socket type, default, min, max, tooltip
    ("Vector", "NodeSocketVector", None, None, None, "Coordinates in metres (object coordinates, or scaled UVs)"),
    ("Scale", "NodeSocketFloat", 1.0, 0.001, 1e6, "Real-world width of the exemplar, in metres"),
    ("Seed", "NodeSocketFloat", 0.0, 0.0, 1e6, "Another seed, another arrangement of the copies"),
    ("Blend Sharpness", "NodeSocketFloat", 1.0, 1.0, 16.0,
     "1: the histogram-preserving blend as published; higher: narrower transitions between copies"),
)
GROUP_OUTPUTS = (("Base Color", "NodeSocketColor"), ("Roughness", "NodeSocketFloat"),
                 ("Normal", "NodeSocketColor"), ("Height", "NodeSocketFloat"), ("Relief", "NodeSocketFloat"))


def _interface(group) -> None:
    for name, kind, default, lo, hi, tip in GROUP_INPUTS:
        socket = group.interface.new_socket(name, in_out="INPUT", socket_type=kind, description=tip)
        if default is not None:
            socket.default_value, socket.min_value, socket.max_value = default, lo, hi
    for name, kind in GROUP_OUTPUTS:
        group.interface.new_socket(name, in_out="OUTPUT", socket_type=kind)


def _triangle(b: Nodes, px, py, cell: float):
    """The cell, its split and the barycentric weights in triangle order: core.infinite.triangle
    in nodes, up to the slots (see _slots) -> (i0, j0, upper, weights)."""
    sj = b.math("MULTIPLY", py, 1.0 / (cell * ROW_FACTOR))
    si = b.math("MULTIPLY_ADD", sj, -0.5, b.math("MULTIPLY", px, 1.0 / cell))
    i0, j0 = b.math("FLOOR", si), b.math("FLOOR", sj)
    fi, fj = b.math("SUBTRACT", si, i0), b.math("SUBTRACT", sj, j0)
    s = b.math("ADD", fi, fj)
    upper = b.math("GREATER_THAN", s, 1.0)
    rest = b.math("SUBTRACT", 1.0, s)
    weights = [b.math("ABSOLUTE", rest), b.math("MULTIPLY_ADD", upper, rest, fi),
               b.math("MULTIPLY_ADD", upper, rest, fj)]
    return i0, j0, upper, weights


def _slots(b: Nodes, i0, j0, upper, weights, seed):
    """Per slot (the lattice's colours, core.infinite.triangle) its vertex as a position in cells
    (i + j/2, j) with the Seed as z, and its weight: slot k holds triangle vertex (k + tau) mod 3,
    tau = (j0 - i0) mod 3, picked by two Mix nodes from the triangle's three. A slot's read
    position then changes only where its weight is zero, so EEVEE's mip levels see no jump."""
    base = b.combine(b.math("MULTIPLY_ADD", j0, 0.5, i0), j0, seed)
    corners = [b.vec("MULTIPLY_ADD", upper, (1.5, 1.0, 0.0), base),  # (i0 + u, j0 + u)
               b.vec("ADD", base, (1.0, 0.0, 0.0)), b.vec("ADD", base, (0.5, 1.0, 0.0))]  # (i0 + 1, j0), (i0, j0 + 1)
    tau = b.math("FLOORED_MODULO", b.math("SUBTRACT", j0, i0), 3.0)
    is_tau = [b.math("COMPARE", tau, float(t), 0.5) for t in range(3)]
    slots = []
    for k in range(3):
        first, second = is_tau[-k % 3], is_tau[(1 - k) % 3]  # slot k holds vertex 0, 1, else 2
        slots.append((b.mix("VECTOR", first, b.mix("VECTOR", second, corners[2], corners[1]), corners[0]),
                      b.mix("FLOAT", first, b.mix("FLOAT", second, weights[2], weights[1]), weights[0])))
    return slots


def _sharpen(b: Nodes, weights, sharpness):
    """w^s / sum w^s, and 1 / sqrt(sum of their squares) for the variance-preserving blend, which
    is sum w^s / |w^s|: two dot products of the powered weights."""
    powered = [b.math("POWER", w, sharpness) for w in weights]
    vector = b.combine(*powered)
    total = b.vec("DOT_PRODUCT", vector, (1.0, 1.0, 1.0))
    weights = [b.math("DIVIDE", p, total) for p in powered]
    return weights, b.math("DIVIDE", total, b.math("SQRT", b.vec("DOT_PRODUCT", vector, vector)))


def _lookups(b: Nodes, prepared: InfiniteImages, images, position, texel):
    """One vertex's copy (position: (i + j/2, j, seed), the vertex in cells): White Noise offset,
    then the two Gaussian images read at texel + (offset - anchor) / size (in vector nodes: fewer
    nodes, a faster shader) -> (albedo colour, relief colour: height, roughness, normal x; relief
    alpha: normal y)."""
    h, w = prepared.shape
    white = b.add(S.WHITE_NOISE, noise_dimensions="3D", hide=True)
    b.feed(S.find_socket(white.inputs, "Vector"), position)
    ranges = [(m, side - 2 * m) if side - 2 * m > 0 else (0.0, float(side))
              for side, m in zip((w, h), prepared.margins)]
    offset = b.vec("FLOOR", b.vec("MULTIPLY_ADD", S.find_socket(white.outputs, "Color"),
                                  (ranges[0][1], ranges[1][1], 0.0), (ranges[0][0], ranges[1][0], 0.0)))
    anchor = b.vec("FLOOR", b.vec("MULTIPLY", position, (prepared.cell, prepared.cell * ROW_FACTOR, 0.0)))
    uv = b.vec("MULTIPLY_ADD", b.vec("SUBTRACT", offset, anchor), (1.0 / w, 1.0 / h, 0.0), texel)
    albedo = b.texture(images[IMAGE_PARTS[0]], uv, GAUSS_INTERPOLATION, GAUSS_EXTENSION)
    relief = b.texture(images[IMAGE_PARTS[1]], uv, GAUSS_INTERPOLATION, GAUSS_EXTENSION)
    return albedo, relief, S.find_socket(relief.node.outputs, "Alpha")


def _weighted(b: Nodes, reads, weights):
    return b.vec("ADD", b.vec("ADD", b.vec("SCALE", reads[0], scale=weights[0]), b.vec("SCALE", reads[1], scale=weights[1])),
                 b.vec("SCALE", reads[2], scale=weights[2]))


def _blend(b: Nodes, weighted, inverse_norm, mean):
    """(sum w_i G_i - mu) / |w| + mu on 3-vectors, from the weighted sum of the still encoded reads
    (G = 2 GAUSS_CODE c - GAUSS_CODE; the weights sum to 1, so decoding the weighted sum is decoding
    each read)."""
    span = 2 * GAUSS_CODE
    centred = b.vec("MULTIPLY_ADD", weighted, (span,) * 3, tuple(-GAUSS_CODE - m for m in mean))
    return b.vec("ADD", b.vec("SCALE", centred, scale=inverse_norm), mean)


def _tables(b: Nodes, gauss, lut_rows):
    """Three channels' Gaussian values -> their exemplar values in one Vector Curves node: a curve
    per table row (None: the channel passes unused), a point per entry at core.infinite.curve_grid,
    straight lines between them (vector handles), level beyond the ends (core.infinite.table_lookup)."""
    node = b.add(VECTOR_CURVES, hide=True)
    mapping = node.mapping
    grid = [float(x) for x in curve_grid(len(next(r for r in lut_rows if r is not None)))]
    mapping.use_clip = False  # Blender tabulates each curve over the clip range and its points' x
    mapping.clip_min_x, mapping.clip_max_x = grid[0], grid[-1]
    mapping.extend = "HORIZONTAL"
    for curve, row in zip(mapping.curves, lut_rows):
        if row is None:
            continue
        points = curve.points
        points[0].location, points[-1].location = (grid[0], float(row[0])), (grid[-1], float(row[-1]))
        for x, y in zip(grid[1:-1], row[1:-1]):
            points.new(x, float(y))
        for point in points:
            point.handle_type = "VECTOR"
    mapping.update()
    b.feed(S.find_socket(node.inputs, "Vector"), gauss)
    return S.find_socket(node.outputs, "Vector")


def _albedo(b: Nodes, comps, prepared: InfiniteImages):
    """PCA components -> linear albedo, clamped to [0, 1]: mean + sum_c component_c * basis column c."""
    c = b.separate(comps)
    basis = [tuple(float(v) for v in prepared.pca_basis[:, k]) for k in range(3)]
    linear = tuple(float(m) for m in prepared.pca_mean)
    for k in range(3):
        linear = b.vec("MULTIPLY_ADD", basis[k], c[k], linear)
    return b.vec("MINIMUM", b.vec("MAXIMUM", linear, (0.0, 0.0, 0.0)), (1.0, 1.0, 1.0))


def _normal(b: Nodes, slope_x, slope_y):
    """The copies' normals mixed with the blend weights through their slopes (x, y; still encoded)
    and renormalised by z = sqrt(1 - x^2 - y^2), encoded like a normal map."""
    xy = b.vec("MULTIPLY_ADD", b.combine(slope_x, slope_y), (2.0, 2.0, 0.0), (-1.0, -1.0, 0.0))
    z = b.math("SQRT", b.math("SUBTRACT", 1.0, b.vec("DOT_PRODUCT", xy, xy)))
    return b.vec("MULTIPLY_ADD", b.vec("ADD", xy, b.combine(0.0, 0.0, z)), (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))


def build_group(prepared: InfiniteImages, images: dict, name: str, relief_per_metre: float):
    """A new shader node group computing core.infinite.evaluate; `relief_per_metre`: Relief output
    per unit Height and metre of Scale (the model's normal strength over the exemplar width)."""
    group = bpy.data.node_groups.new(name, "ShaderNodeTree")
    try:
        _interface(group)
        _fill_group(Nodes(group), prepared, images, relief_per_metre)
    except Exception:
        bpy.data.node_groups.remove(group)
        raise
    group[KEY], group[VERSION] = prepared.key, GROUP_VERSION
    return group


def _fill_group(b: Nodes, prepared: InfiniteImages, images: dict, relief_per_metre: float) -> None:
    h, w = prepared.shape
    inputs = b.add("NodeGroupInput").outputs
    scale, seed, sharpness = (S.find_socket(inputs, n) for n in ("Scale", "Seed", "Blend Sharpness"))
    b.next_column()
    pixel = b.vec("SCALE", S.find_socket(inputs, "Vector"), scale=b.math("DIVIDE", float(w), scale))
    px, py, _ = b.separate(pixel)
    i0, j0, upper, weights = _triangle(b, px, py, prepared.cell)
    weights, inverse_norm = _sharpen(b, weights, sharpness)  # per weight, so before the slots pick them
    b.next_column()
    positions, weights = zip(*_slots(b, i0, j0, upper, weights, seed))
    texel = b.vec("MULTIPLY", pixel, (1.0 / w, 1.0 / h, 0.0))
    reads = [_lookups(b, prepared, images, position, texel) for position in positions]
    b.next_column()
    mean = [float(m) for m in prepared.mean]
    relief = _weighted(b, [r[1] for r in reads], weights)  # height, roughness, normal x (encoded)
    slope_y = b.math("MULTIPLY_ADD", reads[2][2], weights[2], b.math(
        "MULTIPLY_ADD", reads[1][2], weights[1], b.math("MULTIPLY", reads[0][2], weights[0])))
    albedo = _blend(b, _weighted(b, [r[0] for r in reads], weights), inverse_norm, tuple(mean[:3]))
    relief_gauss = _blend(b, relief, inverse_norm, (mean[3], mean[4], 0.0))
    b.next_column()
    comps = _tables(b, albedo, prepared.lut[:3])
    height, roughness, _ = b.separate(_tables(b, relief_gauss, [prepared.lut[3], prepared.lut[4], None]))
    b.next_column()
    outputs = b.add("NodeGroupOutput").inputs
    b.feed(S.find_socket(outputs, "Base Color"), _albedo(b, comps, prepared))
    b.feed(S.find_socket(outputs, "Roughness"), roughness)
    b.feed(S.find_socket(outputs, "Normal"), _normal(b, b.separate(relief)[2], slope_y))
    b.feed(S.find_socket(outputs, "Height"), height)
    b.feed(S.find_socket(outputs, "Relief"), b.math("MULTIPLY", b.math("MULTIPLY", height, relief_per_metre), scale))


def find_group(key: str):
    """The group already built for this exemplar in this layout, if its images are all still there
    (a file's group of an earlier layout stays with its materials; new materials get a new one)."""
    for group in bpy.data.node_groups:
        if group.get(KEY) == key and group.get(VERSION, 1) == GROUP_VERSION and all(n.image is not None for n in group.nodes if n.bl_idname == S.IMAGE):
            return group
    return None


def ensure_group(prepared: InfiniteImages, label: str, normal_strength: float, output: str):
    """(group, created datablocks): the existing group for this exemplar, or a new one with its images."""
    group = find_group(prepared.key)
    if group is not None:
        return group, []
    images = make_images(prepared, label, output)
    try:
        group = build_group(prepared, images, f"{GROUP_PREFIX} {label}", normal_strength / prepared.shape[1])
    except Exception:
        for image in images.values():
            bpy.data.images.remove(image)
        raise
    return group, [group, *images.values()]


# ---------------------------------------------------------------- the material

def build_infinite_tree(tree, group, scale: float, seed: int, coordinates: str = "OBJECT", uv_size: float = 1.0,
                        displacement: str = "BUMP") -> dict:
    """Clear `tree`: Texture Coordinate (Object, or UV scaled to metres by `uv_size`) -> the group ->
    Principled BSDF; its normals through a Normal Map node (object space for object coordinates,
    which project along Z as floors, roads and terrain want; tangent space for UVs); Relief through
    a Displacement node when asked."""
    tree.nodes.clear()
    b = Nodes(tree)
    b.row = 0
    coord = b.add(S.TEX_COORD)
    vector = S.find_socket(coord.outputs, "Object" if coordinates == "OBJECT" else "UV")
    b.next_column()
    if coordinates != "OBJECT":
        vector = b.vec("SCALE", vector, scale=uv_size)
    b.next_column()
    node = b.add(S.GROUP, node_tree=group, label="Infinite Material")
    b.feed(S.find_socket(node.inputs, "Vector"), vector)
    for name, value in (("Scale", scale), ("Seed", float(seed)), ("Blend Sharpness", 1.0)):
        S.find_socket(node.inputs, name).default_value = value
    b.next_column()
    normal_map = b.add(S.NORMAL_MAP, space="OBJECT" if coordinates == "OBJECT" else "TANGENT")
    b.feed(S.find_socket(normal_map.inputs, "Color"), S.find_socket(node.outputs, "Normal"))
    b.next_column()
    bsdf = b.add(S.PRINCIPLED)
    b.feed(S.find_socket(bsdf.inputs, *S.PRINCIPLED_INPUTS["albedo"]), S.find_socket(node.outputs, "Base Color"))
    b.feed(S.find_socket(bsdf.inputs, *S.PRINCIPLED_INPUTS["roughness"]), S.find_socket(node.outputs, "Roughness"))
    b.feed(S.find_socket(bsdf.inputs, *S.PRINCIPLED_INPUTS["normal"]), S.find_socket(normal_map.outputs, "Normal"))
    b.next_column()
    out = b.add(S.OUTPUT)
    b.feed(S.find_socket(out.inputs, "Surface"), S.find_socket(bsdf.outputs, "BSDF"))
    if displacement == "BOTH":
        disp = b.add(S.DISPLACEMENT)
        b.feed(S.find_socket(disp.inputs, "Height"), S.find_socket(node.outputs, "Relief"))
        S.find_socket(disp.inputs, "Midlevel").default_value = 0.0
        S.find_socket(disp.inputs, "Scale").default_value = 1.0
        b.feed(S.find_socket(out.inputs, "Displacement"), S.find_socket(disp.outputs, "Displacement"))
    return {"group": node, "normal_map": normal_map, "bsdf": bsdf, "output": out}


def build_infinite_material(prepared: InfiniteImages, manifest: dict, seed: int, options: MaterialOptions,
                            scale: float, uv_size: float = 1.0) -> bpy.types.Material:
    """The group (reused when one exists for this exemplar) and a new material using it; on any
    failure nothing new is left behind."""
    label = manifest["name"]
    group, created = ensure_group(prepared, label, float((manifest.get("exemplar") or {}).get(
        "normal_strength", manifest.get("normal_strength", 6.0))), options.output)
    material = None
    try:
        material = bpy.data.materials.new(f"TexGAN {label} s{seed} infinite")
        material.use_nodes = True
        material.displacement_method = options.displacement
        build_infinite_tree(material.node_tree, group, scale, seed, options.coordinates, uv_size,
                            options.displacement)
    except Exception:
        if material is not None:
            bpy.data.materials.remove(material)
        for block in created:
            (bpy.data.node_groups if isinstance(block, bpy.types.NodeTree) else bpy.data.images).remove(block)
        raise
    material["texgan"] = {"model": label, "seed": seed, "infinite": True, "scale": scale}
    return material
