"""The generator's latent space as a tool: variations of a texture and morphs between two."""
