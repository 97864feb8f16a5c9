"""Build the PBR node tree: Texture Coordinate -> Mapping -> Image Textures -> Principled BSDF,
normal through a Normal Map node, height through a Displacement node. Takes the tree as argument."""
from __future__ import annotations

import bpy

from . import sockets as S

COLUMN = 300  # node spacing in the editor, pixels


def build_pbr_tree(tree: bpy.types.NodeTree, images: dict[str, bpy.types.Image], mapping_scale: float = 1.0,
                   directx_normal: bool = False, displacement_scale: float = 0.05) -> dict[str, bpy.types.Node]:
    """Clear `tree` and wire the images (keys albedo, normal, roughness, height) into it.

    `mapping_scale` repeats the texture; `directx_normal` means the normal image is DirectX
    (green down), so its green channel is flipped back before the Normal Map node.
    """
    nodes, links = tree.nodes, tree.links
    nodes.clear()
    n: dict[str, bpy.types.Node] = {}

    def add(key: str, idname: str, column: int, row: int, label: str = ""):
        node = nodes.new(idname)
        node.location = (column * COLUMN, -row * COLUMN)
        if label:
            node.label = label
        n[key] = node
        return node

    add("texcoord", S.TEX_COORD, 0, 0)
    add("mapping", S.MAPPING, 1, 0)
    for row, name in enumerate(("albedo", "roughness", "normal", "height")):
        node = add(name, S.IMAGE, 2, row, label=name.capitalize())
        node.image = images[name]
        links.new(S.find_socket(n["mapping"].outputs, "Vector"), S.find_socket(node.inputs, "Vector"))
    add("normal_map", S.NORMAL_MAP, 3, 2)
    add("displacement", S.DISPLACEMENT, 3, 3)
    add("bsdf", S.PRINCIPLED, 4, 0)
    add("output", S.OUTPUT, 5, 0)

    links.new(S.find_socket(n["texcoord"].outputs, "UV"), S.find_socket(n["mapping"].inputs, "Vector"))
    bsdf_in = n["bsdf"].inputs
    links.new(S.find_socket(n["albedo"].outputs, "Color"), S.find_socket(bsdf_in, *S.PRINCIPLED_INPUTS["albedo"]))
    links.new(S.find_socket(n["roughness"].outputs, "Color"),
              S.find_socket(bsdf_in, *S.PRINCIPLED_INPUTS["roughness"]))
    S.find_socket(n["mapping"].inputs, "Scale").default_value = (mapping_scale, mapping_scale, 1.0)
    normal_color = S.find_socket(n["normal"].outputs, "Color")
    if directx_normal:
        normal_color = _flip_green(tree, n, normal_color)
    links.new(normal_color, S.find_socket(n["normal_map"].inputs, "Color"))
    links.new(S.find_socket(n["normal_map"].outputs, "Normal"), S.find_socket(bsdf_in, *S.PRINCIPLED_INPUTS["normal"]))
    links.new(S.find_socket(n["height"].outputs, "Color"), S.find_socket(n["displacement"].inputs, "Height"))
    S.find_socket(n["displacement"].inputs, "Midlevel").default_value = 0.5
    S.find_socket(n["displacement"].inputs, "Scale").default_value = displacement_scale
    links.new(S.find_socket(n["bsdf"].outputs, "BSDF"), S.find_socket(n["output"].inputs, "Surface"))
    links.new(S.find_socket(n["displacement"].outputs, "Displacement"),
              S.find_socket(n["output"].inputs, "Displacement"))

    frame = nodes.new(S.FRAME)
    frame.label = "TexGAN maps"
    for key in ("albedo", "roughness", "normal", "height"):
        n[key].parent = frame
    n["frame"] = frame
    return n


def _flip_green(tree, n: dict, color_socket):
    """Separate Color -> 1 - green -> Combine Color: DirectX normal map back to OpenGL for shading."""
    nodes, links = tree.nodes, tree.links
    sep = nodes.new(S.SEPARATE_COLOR)
    flip = nodes.new(S.MATH)
    comb = nodes.new(S.COMBINE_COLOR)
    flip.operation = "SUBTRACT"
    S.socket_by_identifier(flip.inputs, "Value").default_value = 1.0
    for i, node in enumerate((sep, flip, comb)):
        node.location = (2.5 * COLUMN + i * 60, -2.6 * COLUMN - i * 40)
        node.hide = True
    links.new(color_socket, S.find_socket(sep.inputs, "Color"))
    for channel in ("Red", "Blue"):
        links.new(S.find_socket(sep.outputs, channel), S.find_socket(comb.inputs, channel))
    links.new(S.find_socket(sep.outputs, "Green"), S.socket_by_identifier(flip.inputs, "Value_001"))
    links.new(S.find_socket(flip.outputs, "Value"), S.find_socket(comb.inputs, "Green"))
    n.update(flip_separate=sep, flip_green=flip, flip_combine=comb)
    return S.find_socket(comb.outputs, "Color")
