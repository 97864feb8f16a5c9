"""Runs models: torch networks rebuilt from a manifest, device choice, generation requests.

torch is imported lazily (only nets.py imports it at module level), so this package can be
imported in a Blender without torch and report a clear message instead of failing on import.
"""
