"""Node type ids and socket names, in one place; sockets are always looked up by name."""
from __future__ import annotations

TEX_COORD = "ShaderNodeTexCoord"
MAPPING = "ShaderNodeMapping"
IMAGE = "ShaderNodeTexImage"
PRINCIPLED = "ShaderNodeBsdfPrincipled"
NORMAL_MAP = "ShaderNodeNormalMap"
DISPLACEMENT = "ShaderNodeDisplacement"
OUTPUT = "ShaderNodeOutputMaterial"
FRAME = "NodeFrame"
SEPARATE_COLOR = "ShaderNodeSeparateColor"
COMBINE_COLOR = "ShaderNodeCombineColor"
MATH = "ShaderNodeMath"
BUMP = "ShaderNodeBump"
SEPARATE_RGB = "ShaderNodeSeparateRGB"  # the pre-3.3 node, still found in imported files
# Colour nodes an imported material may put between an albedo image and Base Color.
COLOUR_FILTERS = ("ShaderNodeMix", "ShaderNodeMixRGB", "ShaderNodeHueSaturation", "ShaderNodeGamma",
                  "ShaderNodeBrightContrast", "ShaderNodeInvert", "ShaderNodeRGBCurve")

# Sockets read when following an imported material's links.
IMAGE_COLOR = ("Color",)
OUTPUT_SURFACE = ("Surface",)
OUTPUT_DISPLACEMENT = ("Displacement",)
HEIGHT = ("Height",)                                 # Displacement's and Bump's input
NORMAL_MAP_COLOR = ("Color",)
SEPARATE_INPUT = ("Color", "Image")                  # Separate Color, Separate RGB
CHANNEL_OUTPUTS = {"Red": 0, "Green": 1, "Blue": 2, "R": 0, "G": 1, "B": 2}

# Principled BSDF input per map. Names checked on Blender 4.2 - 5.0 (4.0 renamed several inputs,
# so alternatives are tried in order).
PRINCIPLED_INPUTS = {
    "albedo": ("Base Color",),
    "roughness": ("Roughness",),
    "normal": ("Normal",),
}


def find_socket(sockets, *names: str):
    """The first socket whose name is in `names`; a clear error if none (a renamed socket)."""
    for name in names:
        socket = sockets.get(name)
        if socket is not None:
            return socket
    raise LookupError(f"no socket named {' or '.join(names)} (this Blender version renamed it?)")


def socket_by_identifier(sockets, identifier: str):
    """For nodes whose sockets share a name (Math: "Value" twice), the unique identifier."""
    for socket in sockets:
        if socket.identifier == identifier:
            return socket
    raise LookupError(f"no socket with identifier {identifier}")

# Nodes of the infinite material's group (blender/infinite.py).
VECTOR_MATH = "ShaderNodeVectorMath"
COMBINE_XYZ = "ShaderNodeCombineXYZ"
SEPARATE_XYZ = "ShaderNodeSeparateXYZ"
WHITE_NOISE = "ShaderNodeTexWhiteNoise"
GROUP = "ShaderNodeGroup"
