"""Exemplar synthesis: fields of exemplar coordinates (coarse-to-fine refinement, joined
patches, tiling and blending) and the repeats they keep. Pure numpy."""
