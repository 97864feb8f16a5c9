"""Photo to material, the parts without a network: making a photo tile (wrap cut, seamless),
flattening its perspective, periodic upscaling and the classical maps. Pure numpy."""
