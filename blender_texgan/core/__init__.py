"""Pure Python + numpy: map specs, the model-file format, normals, tiling maths, PNG files.

Nothing in this package imports bpy or torch, so it is usable (and tested) anywhere.
"""
