"""The model-file contract: round trip, and one clear line for every malformed file."""
from __future__ import annotations

import json
import struct
import zlib

import numpy as np
import pytest
from conftest import EXEMPLAR_MALFORMED, MALFORMED, edit_manifest, rewrite_header, with_exemplar

from blender_texgan.core.modelfile import ModelFileError, read_manifest, read_model_file, write_model_file


def test_round_trip(tiny_model):
    model = read_model_file(tiny_model)
    assert model.name == "tiny"
    assert read_manifest(tiny_model) == model.manifest
    assert [m["name"] for m in model.manifest["maps"]] == ["albedo", "normal", "roughness", "height"]
    assert all(v.dtype == np.float32 for v in model.tensors.values())


def test_file_is_standard_safetensors(tiny_model):
    """Any safetensors reader can open it: 8-byte length, JSON header, string-only metadata."""
    raw = tiny_model.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    assert all(isinstance(v, str) for v in header["__metadata__"].values())
    ends = [info["data_offsets"][1] for k, info in header.items() if k != "__metadata__"]
    assert max(ends) == len(raw) - 8 - n



@pytest.mark.parametrize("kind", sorted(MALFORMED))
def test_malformed_files_give_one_clear_line(kind, tiny_model, tmp_path):
    bad = tmp_path / f"{kind}.safetensors"
    MALFORMED[kind](tiny_model, bad)
    with pytest.raises(ModelFileError) as info:
        read_model_file(bad)
    message = str(info.value)
    assert "\n" not in message and bad.name in message and len(message) < 200


def test_nan_weights_are_refused(tiny_model, tmp_path):
    model = read_model_file(tiny_model)
    tensors = dict(model.tensors)
    tensors["stem.weight"] = tensors["stem.weight"].copy()
    tensors["stem.weight"][0, 0, 0, 0] = np.nan
    bad = write_model_file(tmp_path / "nan.safetensors", tensors, model.manifest)
    with pytest.raises(ModelFileError, match="NaN"):
        read_model_file(bad)


def test_wrong_suffix_and_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="not a .safetensors"):
        read_model_file(tmp_path / "model.pt")
    with pytest.raises(ModelFileError, match="does not exist"):
        read_model_file(tmp_path / "absent.safetensors")


def test_loading_never_unpickles(tiny_model):
    """The reader imports nothing that can run code from a file (no pickle, marshal or torch.load);
    the monkeypatching test it replaced could not see torch's own Unpickler."""
    import ast

    import blender_texgan.core.modelfile as modelfile
    tree = ast.parse(open(modelfile.__file__).read())
    imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert not imported & {"pickle", "marshal", "torch", "dill", "joblib", "shelve"}
    assert "eval(" not in open(modelfile.__file__).read() and "exec(" not in open(modelfile.__file__).read()
    assert read_model_file(tiny_model).tensors  # and reading a model still works without them


def test_write_is_atomic(tiny_model, tmp_path):
    model = read_model_file(tiny_model)
    out = write_model_file(tmp_path / "copy.safetensors", model.tensors, model.manifest)
    assert not list(tmp_path.glob("*.part")) and read_model_file(out).manifest == model.manifest


# ---------------------------------------------------------------- the exemplar a model carries

def test_exemplar_round_trips_as_8_and_16_bit_maps(tiny_model, tmp_path):
    path, exemplar = with_exemplar(tiny_model, tmp_path)
    model = read_model_file(path)
    assert model.exemplar.shape == (48, 40, 5)
    assert np.abs(model.exemplar[..., :3] - exemplar[..., :3]).max() <= 0.5 / 255 + 1e-6   # albedo, 8 bit
    assert np.abs(model.exemplar[..., 3] - exemplar[..., 3]).max() <= 0.5 / 65535 + 1e-6  # height, 16 bit
    assert set(model.tensors) == set(read_model_file(tiny_model).tensors)  # weights apart from the maps
    assert model.manifest["exemplar"]["height"] == 48 and read_model_file(tiny_model).exemplar is None


@pytest.mark.parametrize("case", sorted(EXEMPLAR_MALFORMED))
def test_a_malformed_exemplar_block_is_refused_in_one_line(tiny_model, tmp_path, case):
    path, _ = with_exemplar(tiny_model, tmp_path)
    edit, words = EXEMPLAR_MALFORMED[case]
    bad = rewrite_header(path, tmp_path / "bad.safetensors", edit)
    with pytest.raises(ModelFileError) as info:
        read_model_file(bad)
    message = str(info.value)
    assert words in message and "\n" not in message and "bad.safetensors" in message


# ---------------------------------------------------------------- the packed exemplar ("deflate_delta")

def test_a_packed_exemplar_reads_back_exactly_as_the_raw_one(tiny_model, tmp_path):
    """Packing is lossless: the same integers, so generation is the same; it is kept when a file is
    read and written again (pack=None), and pack=False writes the raw maps again."""
    raw, exemplar = with_exemplar(tiny_model, tmp_path)
    model = read_model_file(raw)
    packed = write_model_file(tmp_path / "packed.safetensors", model.tensors, model.manifest,
                              exemplar=model.exemplar, pack=True)
    again = read_model_file(packed)
    assert again.manifest["exemplar"]["encoding"] == "deflate_delta"
    np.testing.assert_array_equal(again.exemplar, model.exemplar)
    kept = write_model_file(tmp_path / "kept.safetensors", again.tensors, again.manifest, exemplar=again.exemplar)
    assert read_model_file(kept).manifest["exemplar"]["encoding"] == "deflate_delta"
    unpacked = write_model_file(tmp_path / "raw.safetensors", again.tensors, again.manifest,
                                exemplar=again.exemplar, pack=False)
    assert "encoding" not in read_model_file(unpacked).manifest["exemplar"]
    assert unpacked.read_bytes() == raw.read_bytes()


def test_packing_wraps_around_and_shrinks_a_smooth_map():
    from blender_texgan.core.modelfile import pack_exemplar_map, unpack_exemplar_map

    ramp = (np.arange(64 * 96, dtype=np.uint32).reshape(64, 96, 1) * 40503 % 65536).astype(np.uint16)
    for ints in (ramp, (ramp >> 8).astype(np.uint8), np.full((40, 50, 3), 255, np.uint8)):
        packed = pack_exemplar_map(ints)
        assert packed.dtype == np.uint8 and packed.ndim == 1
        np.testing.assert_array_equal(unpack_exemplar_map(packed, ints.shape, ints.dtype), ints)
    assert pack_exemplar_map(np.full((40, 50, 3), 255, np.uint8)).size < 200


def _packed(tiny_model, tmp_path):
    model = read_model_file(tiny_model)
    rng = np.random.default_rng(0)
    return write_model_file(tmp_path / "packed.safetensors", model.tensors, model.manifest,
                            exemplar=rng.random((48, 40, 5)).astype(np.float32), pack=True)


def _replace_tensor(name, data: bytes):
    """A header edit and the new bytes of tensor `name`, put at the end of the data."""
    def rewrite(src, dst):
        raw = src.read_bytes()
        (n,) = struct.unpack("<Q", raw[:8])
        header = json.loads(raw[8:8 + n])
        body = raw[8 + n:]
        header[name]["data_offsets"] = [len(body), len(body) + len(data)]
        header[name]["shape"] = [len(data)]
        new = json.dumps(header).encode()
        dst.write_bytes(struct.pack("<Q", len(new)) + new + body + data)
        return dst
    return rewrite


PACKED_MALFORMED = {
    "not deflate": (_replace_tensor("exemplar.albedo", b"\x00" * 64), "does not unpack"),
    "too short": (_replace_tensor("exemplar.height", zlib.compress(b"\x00" * 100)), "does not unpack"),
    "a bomb": (_replace_tensor("exemplar.roughness", zlib.compress(b"\x00" * 10 ** 7, 9)),
               "does not unpack"),
    "trailing bytes": (_replace_tensor("exemplar.roughness", zlib.compress(b"\x00" * 48 * 40) + b"x"),
                       "does not unpack"),
    "not bytes": (lambda src, dst: rewrite_header(src, dst, lambda h: h["exemplar.albedo"].update(
        shape=[1, h["exemplar.albedo"]["shape"][0]])), "expected U8 bytes"),
    "unknown encoding": (lambda src, dst: rewrite_header(src, dst, edit_manifest(
        lambda m: m["exemplar"].__setitem__("encoding", "zip9"))), "exemplar encoding"),
}


@pytest.mark.parametrize("case", sorted(PACKED_MALFORMED))
def test_a_malformed_packed_exemplar_is_refused_in_one_line(tiny_model, tmp_path, case):
    rewrite, words = PACKED_MALFORMED[case]
    bad = rewrite(_packed(tiny_model, tmp_path), tmp_path / "bad.safetensors")
    with pytest.raises(ModelFileError) as info:
        read_model_file(bad)
    message = str(info.value)
    assert words in message and "\n" not in message and "bad.safetensors" in message
