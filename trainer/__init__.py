"""TexGAN trainer: procedural data, GAN training and export of model files for the add-on.

Imports blender_texgan.core and blender_texgan.engine (never the reverse) and never imports bpy.
"""
