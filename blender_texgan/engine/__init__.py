"""Runs models off the UI thread: a typed request in, a MapSet out (generate), for every capability:
exemplar synthesis (synthesis), photo to material (photo/), variations and morphs (latent/), material
translation (material_translation), infinite materials (infinite); the networks in nets/ on either
engine (torch, or numpy where torch is missing); jobs, workers and an external Python.

Only the modules of nets/ that build torch modules import torch at their top
(tests/test_import_graph.py holds the list): the add-on imports this package in a Blender without
torch and says so in one line when a torch-only choice is asked for.
"""
