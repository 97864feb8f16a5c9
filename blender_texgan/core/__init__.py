"""Pure Python + numpy, the maths: exemplar synthesis (synthesis/), the photo tools without a
network (photo/), the networks' shapes (arch/), the model-file format, maps, normals, PNG files.

Nothing in this package imports bpy or torch, so it is usable (and tested) anywhere.
"""
