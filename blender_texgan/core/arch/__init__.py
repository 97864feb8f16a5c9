"""Network shapes, read from and checked against a model file's manifest: the generator, the
photo translator, the material translator and the VAE. No torch: both engines build from these."""
