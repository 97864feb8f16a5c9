"""Every bundled model: valid file, says how it was trained, makes periodic, non-flat PBR sets."""
from __future__ import annotations

import numpy as np
import pytest

from blender_texgan.core.modelfile import read_model_file
from blender_texgan.core.tiling import looks_periodic, seam_ratio
from blender_texgan.engine.generate import DEFAULT_MODEL, GenerationRequest, bundled_models, generate

MODELS = sorted(bundled_models())


def test_the_default_model_is_bundled_and_small():
    assert DEFAULT_MODEL in MODELS
    for path in bundled_models().values():
        assert path.stat().st_size < 8 * 1024 * 1024


@pytest.mark.parametrize("name", MODELS)
def test_manifest_says_how_it_was_trained(name):
    manifest = read_model_file(bundled_models()[name]).manifest
    training = manifest["training"]
    assert training["command"].startswith("python -m trainer train")
    assert training["steps"] > 0 and training["seconds"] > 0 and training["machine"]
    assert manifest["license"] and manifest["description"]
    assert set(manifest["metrics"]) >= {"swd_ratio", "seam_ratio", "diversity_ratio"}


@pytest.mark.parametrize("name", MODELS)
def test_generates_periodic_textured_maps(name):
    maps, _ = generate(GenerationRequest(name, 256, seed=0, engine="numpy"))
    for map_name, arr in maps.items():
        assert arr.std() > 0.01, f"{name} {map_name} is flat"
        assert looks_periodic(arr) and seam_ratio(arr) < 1.3, f"{name} {map_name} has a seam"
    other, _ = generate(GenerationRequest(name, 256, seed=1, engine="numpy"))
    assert np.abs(other["albedo"] - maps["albedo"]).mean() > 0.01  # seeds give different materials
