"""Model files follow the safetensors format exactly: the reference library (`safetensors`, a
development requirement) opens every file we write with the same tensors, and every file it refuses
we refuse too (with our one clear line)."""
from __future__ import annotations

import numpy as np
import pytest

safetensors = pytest.importorskip("safetensors")
from conftest import EXEMPLAR_MALFORMED, MALFORMED, rewrite_header, with_exemplar  # noqa: E402
from safetensors import safe_open  # noqa: E402

from blender_texgan.core.modelfile import ModelFileError, read_model_file, unpack_exemplar_map  # noqa: E402
from blender_texgan.engine.generate import bundled_models  # noqa: E402


def reference_tensors(path) -> dict[str, np.ndarray]:
    with safe_open(str(path), framework="np") as f:
        return {name: f.get_tensor(name) for name in f.keys()}


@pytest.mark.parametrize("name", sorted(bundled_models()))
def test_every_bundled_model_opens_with_the_reference_library(name):
    path = bundled_models()[name]
    theirs = reference_tensors(path)
    ours = read_model_file(path)
    for key, value in ours.tensors.items():
        np.testing.assert_array_equal(theirs[key].astype(np.float32), value)
    albedo = theirs["exemplar.albedo"]
    assert albedo.dtype == np.uint8
    if ours.manifest["exemplar"].get("encoding") == "deflate_delta":  # bytes, as the reference reads them
        assert albedo.ndim == 1 and theirs["exemplar.height"].dtype == np.uint8
        albedo = unpack_exemplar_map(albedo, ours.exemplar[..., :3].shape, np.dtype(np.uint8))
    else:
        assert theirs["exemplar.height"].dtype == np.uint16
    np.testing.assert_allclose(albedo / 255.0, ours.exemplar[..., :3], atol=1e-6)


def test_a_written_model_with_an_exemplar_opens_with_the_reference_library(tiny_model, tmp_path):
    path, exemplar = with_exemplar(tiny_model, tmp_path)
    theirs = reference_tensors(path)
    assert theirs["exemplar.height"].shape == exemplar[..., 3:4].shape
    with safe_open(str(path), framework="np") as f:
        assert all(isinstance(v, str) for v in f.metadata().values())


def _reference_refuses(path) -> bool:
    try:
        reference_tensors(path)
    except Exception:  # the reference library's own error types vary by version
        return True
    return False


CASES = {**{k: (lambda src, dst, tmp, f=f: f(src, dst)) for k, f in MALFORMED.items()},
         **{k: (lambda src, dst, tmp, e=e: rewrite_header(with_exemplar(src, tmp)[0], dst, e[0]))
            for k, e in EXEMPLAR_MALFORMED.items()}}


@pytest.mark.parametrize("case", sorted(CASES))
def test_what_the_reference_library_refuses_we_refuse(case, tiny_model, tmp_path):
    bad = tmp_path / "bad.safetensors"
    CASES[case](tiny_model, bad, tmp_path)
    if _reference_refuses(bad):
        with pytest.raises(ModelFileError):
            read_model_file(bad)


def test_the_comparison_is_not_vacuous(tiny_model, tmp_path):
    """The reference library does refuse some of the cases (so the test above compares something),
    among them a non-string __metadata__ value, which this reader once accepted."""
    refused = []
    for case in sorted(CASES):
        folder = tmp_path / case
        folder.mkdir()
        CASES[case](tiny_model, folder / "bad.safetensors", folder)
        if _reference_refuses(folder / "bad.safetensors"):
            refused.append(case)
    assert "metadata not a string" in refused and len(refused) >= 5, refused
