"""Build the PBR node tree: Texture Coordinate -> Mapping -> Image Textures -> Principled BSDF,
normal through a Normal Map node, height through a Displacement node. Takes the tree as argument."""
from __future__ import annotations

import bpy

from . import sockets as S

COLUMN = 300  # node spacing in the editor, pixels


def build_pbr_tree(tree: bpy.types.NodeTree, images: dict[str, bpy.types.Image],
                   displacement_scale: float = 0.05) -> dict[str, bpy.types.Node]:
    """Clear `tree` and wire the images (keys albedo, normal, roughness, height) into it."""
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
    links.new(S.find_socket(n["normal"].outputs, "Color"), S.find_socket(n["normal_map"].inputs, "Color"))
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
