"""What to do with generated maps in Blender: a typed record the UI fills and the builder reads."""
from __future__ import annotations

from dataclasses import dataclass

DISPLACEMENT_METHODS = ("BUMP", "BOTH")       # bump only, or true displacement and bump
NORMAL_CONVENTIONS = ("OPENGL", "DIRECTX")
TARGETS = ("ACTIVE", "SELECTED")
SLOT_MODES = ("REPLACE", "NEW_SLOT")
OUTPUTS = ("PACK", "SAVE")
SURFACES = ("BAKED", "INFINITE")             # baked maps, or the exemplar tiled and blended at render time
COORDINATES = ("OBJECT", "UV")               # what the infinite material is sampled by


@dataclass(frozen=True)
class MaterialOptions:
    real_size_m: float = 1.0            # real-world width of one texture repeat, metres
    displacement: str = "BUMP"
    normal_convention: str = "OPENGL"   # DIRECTX stores a green-flipped map and flips it back in nodes
    target: str = "ACTIVE"
    slot: str = "REPLACE"
    output: str = "PACK"                # PACK into the .blend, or SAVE next to it (relative paths)
    bit_depth: int = 8                  # saved PNGs: 8 or 16 bits
    height_exr: bool = False            # saved height map as OpenEXR (float) instead of PNG
    surface: str = "BAKED"              # INFINITE: one node group samples the exemplar (blender/infinite.py)
    coordinates: str = "OBJECT"         # the infinite material's coordinates: object space or UVs

    def __post_init__(self):
        for value, allowed in ((self.displacement, DISPLACEMENT_METHODS), (self.normal_convention, NORMAL_CONVENTIONS),
                               (self.target, TARGETS), (self.slot, SLOT_MODES), (self.output, OUTPUTS),
                               (self.surface, SURFACES), (self.coordinates, COORDINATES)):
            if value not in allowed:
                raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        if self.bit_depth not in (8, 16):
            raise ValueError("bit depth must be 8 or 16")
        if not self.real_size_m > 0:
            raise ValueError("real-world size must be positive")


def mapping_scale(object_size_m: float, real_size_m: float) -> float:
    """Mapping-node scale so one texture repeat spans real_size_m on an object whose UV square
    spans object_size_m (a default plane or cube face: UVs 0..1 over its width)."""
    return max(object_size_m, 1e-6) / real_size_m


def texture_file_name(material_name: str, map_name: str, extension: str) -> str:
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in material_name)
    return f"{safe}_{map_name}.{extension}"
