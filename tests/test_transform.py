"""Material translation (maps -> maps, CycleGAN): the net and its numpy twin, periodicity, the
engine entry, model files, training on two procedural materials, the trainer's CLI errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from blender_texgan.core.arch.material_translator import MaterialTranslatorConfig, material_translator_param_shapes
from blender_texgan.core.maps import complete_map_set, split_channels, stack_channels
from blender_texgan.core.modelfile import ModelFileError, read_model_file, write_model_file
from blender_texgan.core.normals import normal_from_height
from blender_texgan.core.tiling import seam_ratio
from blender_texgan.engine import library
from blender_texgan.engine.material_translation import MaterialTranslator, transform_maps, transform_stack
from blender_texgan.engine.nets.material_translator import build_material_translator
from blender_texgan.engine.nets.numpy_material_translator import NumpyMaterialTranslator
from blender_texgan.engine.request import GenerationError
from trainer.cyclegan import Domain, export_material_translator, train_cyclegan
from trainer.cyclegan_options import CycleGanOptions
from trainer.data import write_material
from trainer.procedural import make_material

SMALL = MaterialTranslatorConfig((8, 12, 16))


def _net(cfg=SMALL, seed=0):
    torch.manual_seed(seed)
    net = build_material_translator(cfg).eval()
    for p in net.parameters():  # weights big enough that every layer matters (the head starts at zero)
        p.data.normal_(0.0, 0.3)
    return net


def _domain(name):
    return Domain(name, [name], [], [], 3.0)


def _export(tmp_path, net=None, name="t.safetensors"):
    return export_material_translator(net or _net(), SMALL, tmp_path / name, _domain("clean metal"),
                                  _domain("rusty metal"), 1, {"steps": 0}, {}, ["procedural"])


def _bricks(size=64, seed=0):
    """A periodic (H, W, 5) stack: a procedural brick material."""
    return np.moveaxis(stack_channels(make_material("bricks", seed, size)), 0, -1)


def _torch(net, stack):
    with torch.no_grad():
        return net(torch.from_numpy(np.ascontiguousarray(stack.transpose(2, 0, 1)))[None])[0].permute(1, 2, 0).numpy()


# ---------------------------------------------------------------- the net

def test_torch_parameters_match_the_core_description():
    shapes = {k: tuple(v.shape) for k, v in build_material_translator(SMALL).state_dict().items()}
    assert shapes == material_translator_param_shapes(SMALL)


def test_numpy_twin_matches_torch():
    net = _net()
    stack = np.random.default_rng(1).random((32, 48, 5)).astype(np.float32)
    twin = NumpyMaterialTranslator(SMALL, {k: v.numpy() for k, v in net.state_dict().items()})
    a, b = _torch(net, stack), twin(stack)
    assert np.abs(a - stack).mean() > 0.1  # the weights really change the maps
    np.testing.assert_allclose(a, b, atol=2e-4)


def test_untrained_net_is_the_identity():
    stack = _bricks(32)
    out = _torch(build_material_translator(SMALL).eval(), stack)
    np.testing.assert_allclose(out, np.clip(stack, 1e-3, 1 - 1e-3), atol=1e-5)


@pytest.mark.parametrize("engine", ["torch", "numpy"])
def test_translation_is_exactly_periodic(tmp_path, engine):
    net = MaterialTranslator(read_model_file(_export(tmp_path)), engine=engine)
    stack = _bricks(64)
    out = net(stack)
    m = SMALL.multiple
    shifted = net(np.roll(stack, (3 * m, -5 * m), axis=(0, 1)))
    np.testing.assert_allclose(shifted, np.roll(out, (3 * m, -5 * m), axis=(0, 1)), atol=2e-4)
    tiled = net(np.tile(stack, (2, 2, 1)))  # a periodic input's translation tiles without a seam
    np.testing.assert_allclose(tiled, np.tile(out, (2, 2, 1)), atol=2e-4)  # float rounding only
    assert seam_ratio(out) < 1.5 * max(seam_ratio(stack), 1.0)


# ---------------------------------------------------------------- the engine entry

def test_transform_maps_strength_and_derived_normal(tmp_path):
    path = _export(tmp_path)
    maps = make_material("bricks", 3, 32)
    unchanged = transform_maps(maps, path, strength=0.0, engine="numpy", normal_strength=6.0)
    full = transform_maps(maps, path, strength=1.0, engine="numpy", normal_strength=6.0)
    half = transform_maps(maps, path, strength=0.5, engine="numpy", normal_strength=6.0)
    np.testing.assert_allclose(unchanged["albedo"], maps["albedo"], atol=1e-6)
    assert np.abs(full["albedo"] - maps["albedo"]).mean() > 0.05
    np.testing.assert_allclose(half["albedo"], 0.5 * (maps["albedo"] + full["albedo"]), atol=1e-5)
    np.testing.assert_allclose(full["normal"], normal_from_height(full["height"][..., 0], 6.0), atol=1e-6)
    assert set(full) == {"albedo", "normal", "roughness", "height"}


def test_transform_rejects_bad_input_in_one_line(tmp_path):
    path = _export(tmp_path)
    with pytest.raises(GenerationError, match="multiples of 4"):
        transform_maps(make_material("bricks", 0, 30), path, engine="numpy")
    with pytest.raises(GenerationError, match="between 0 and 1"):
        transform_maps(make_material("bricks", 0, 32), path, strength=1.5, engine="numpy")
    with pytest.raises(GenerationError, match="lack roughness"):
        transform_maps({"albedo": np.zeros((32, 32, 3)), "height": np.zeros((32, 32, 1))}, path, engine="numpy")


# ---------------------------------------------------------------- model files

def test_exported_file_loads_and_says_what_it_translates(tmp_path):
    model = read_model_file(_export(tmp_path))
    block = model.manifest["translator"]
    assert (block["direction"], block["from"], block["to"]) == ("maps_to_maps", "clean metal", "rusty metal")
    assert model.manifest["credits"] == ["procedural"]
    assert all(v.dtype == np.float32 for v in model.tensors.values())


@pytest.mark.parametrize("change, problem", [
    (lambda m: m["translator"].update(direction="maps_to_photo"), "without a known direction"),
    (lambda m: m["translator"].pop("to"), "without a 'to' material"),
    (lambda m: m["architecture"].update(name="periodic_unet_v1"), "unknown material translator architecture"),
])
def test_bad_manifest_is_one_line_error(tmp_path, change, problem):
    model = read_model_file(_export(tmp_path))
    manifest = json.loads(json.dumps(model.manifest))
    change(manifest)
    with pytest.raises(ModelFileError, match=problem) as info:
        write_model_file(tmp_path / "bad.safetensors", model.tensors, manifest)
    assert "\n" not in str(info.value)


def test_photo_translator_architecture_under_maps_direction_is_refused(tmp_path):
    from blender_texgan.core.arch.photo_translator import UNetConfig
    from blender_texgan.engine.nets.photo_translator import build_translator
    from trainer.translator import export_translator

    cfg = UNetConfig((8, 12))
    photo = read_model_file(export_translator(build_translator(cfg), cfg, tmp_path / "p.safetensors", "p", {}))
    with pytest.raises(ModelFileError, match="is a photo translator .* use it with photo2mat --translator"):
        MaterialTranslator(photo, engine="numpy")


def test_corrupt_file_is_one_line_error(tmp_path):
    path = _export(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) - 100])
    with pytest.raises(ModelFileError, match="truncated") as info:
        read_model_file(path)
    assert "\n" not in str(info.value)


def test_material_translators_are_not_photo_translators(tmp_path, monkeypatch):
    monkeypatch.setattr(library, "TRANSLATORS_DIR", tmp_path)
    _export(tmp_path, name="clean_to_rusty.safetensors")
    assert "clean_to_rusty" not in library.bundled_translators()
    assert library.bundled_translators("maps_to_maps") == {"clean_to_rusty": tmp_path / "clean_to_rusty.safetensors"}
    assert library.resolve_material_translator("clean_to_rusty") == tmp_path / "clean_to_rusty.safetensors"


BUNDLED = library.TRANSLATORS_DIR / "clean_to_rusty_metal.safetensors"


@pytest.mark.skipif(not BUNDLED.exists(), reason="no bundled clean_to_rusty_metal translator")
def test_bundled_translator_loads_and_its_translation_tiles():
    model = read_model_file(BUNDLED)
    assert model.manifest["translator"]["direction"] == "maps_to_maps"
    for key in ("round_trip_l1", "change_l1", "tile_error"):
        assert key in model.manifest["metrics"]
    net = MaterialTranslator(model, engine="numpy")
    stack = _bricks(64)
    out = transform_stack(net, stack)
    assert np.abs(out - stack).mean() > 1e-3  # it changes the material
    np.testing.assert_allclose(net(np.tile(stack, (2, 2, 1))), np.tile(net(stack), (2, 2, 1)), atol=1e-5)
    maps = complete_map_set(split_channels(np.moveaxis(out, -1, 0)), 4.0)
    assert all(seam_ratio(maps[k]) < 1.5 * max(seam_ratio(make_material("bricks", 0, 64)[k]), 1.0) for k in maps)


# ---------------------------------------------------------------- training

def _write_domain(folder, tint, roughness, seeds):
    for seed in seeds:
        maps = make_material("bricks", seed, 96)
        maps["albedo"] = np.clip(maps["albedo"] * np.float32(tint), 0, 1)
        maps["roughness"] = np.clip(maps["roughness"] * 0.3 + roughness, 0, 1)
        write_material(folder, f"m{seed:02d}", {k: maps[k] for k in ("albedo", "roughness", "height")})


def test_cyclegan_learns_a_colour_shift_and_comes_back(tmp_path):
    torch.set_num_threads(1)
    _write_domain(tmp_path / "a", (0.8, 0.8, 0.85), 0.2, (0, 1))   # grey, smooth
    _write_domain(tmp_path / "b", (1.0, 0.45, 0.2), 0.65, (2, 3))  # rust-coloured, rough
    opts = CycleGanOptions(data_a=[str(tmp_path / "a")], data_b=[str(tmp_path / "b")], out=str(tmp_path / "run"),
                           steps=80, batch=4, crop=32, downsample=1, channels=[8, 16], lr=3e-3, log_every=40,
                           ckpt_every=1000, name_a="grey bricks", name_b="rust bricks")
    lines = []
    forward, backward = train_cyclegan(opts, log=lines.append)
    assert any('"step": 40' in line for line in lines)  # progress lines while training
    m = read_model_file(forward).manifest["metrics"]
    assert m["change_l1"] > 0.03                        # A -> B really changes the maps...
    assert m["round_trip_l1"] < 0.5 * m["change_l1"]     # ...and B -> A brings them most of the way back
    src, out, dst = (np.array(m[k]) for k in ("albedo_mean_source", "albedo_mean_translated", "albedo_mean_target"))
    assert np.abs(out - dst).sum() < 0.95 * np.abs(src - dst).sum()  # the colour moved towards B's...
    assert m["swd_translated_to_target"] < 0.5 * m["swd_source_to_target"]  # ...and so did the patches
    assert m["tile_error"] < 1e-4 and m["shift_error"] < 1e-4
    assert read_model_file(backward).manifest["translator"]["from"] == "rust bricks"
    assert (tmp_path / "run" / "checkpoints").is_dir() and (tmp_path / "run" / "log.jsonl").exists()


def test_trainer_cli_missing_folder_is_one_error_line(tmp_path, capsys):
    from trainer.__main__ import main

    assert main(["train", "--kind", "cyclegan", "--data-a", str(tmp_path / "nowhere"), "--data-b", str(tmp_path),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "nowhere" in err[0]
    (tmp_path / "empty").mkdir()
    assert main(["train", "--kind", "cyclegan", "--data-a", str(tmp_path / "empty"), "--data-b", str(tmp_path / "empty"),
                 "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no image files" in err[0]
    assert not (tmp_path / "run").exists()


def test_transform_command_unknown_translator_is_one_error_line(tmp_path, capsys):
    from blender_texgan.__main__ import main

    assert main(["transform", "--translator", "no_such_translator", "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: Unknown material translator 'no_such_translator'")


# ---------------------------------------------------------------- the detail step (the target's exemplar)

def _export_with_exemplar(tmp_path, name="tx.safetensors", **block):
    """A translator carrying a procedural wood exemplar (the 'target material'), 64 x 96 px, not periodic."""
    ex = np.moveaxis(stack_channels(make_material("wood_planks", 5, 96)), 0, -1)[:64]
    block = {"guide_scale": 1, "normal_strength": 3.0, "periodic": False, "lattice": [0, 0], **block}
    return export_material_translator(_net(), SMALL, tmp_path / name, _domain("clean metal"), _domain("rusty metal"), 1,
                                  {"steps": 0}, {}, ["procedural"], (ex.astype(np.float32), block))


def test_detail_step_is_periodic_and_copies_the_exemplar(tmp_path):
    from blender_texgan.core.synthesis.read_field import apply_field, patch_cuts
    from blender_texgan.engine.generate import PRESERVE_CONTRAST, REFINE_SOFTEN
    from blender_texgan.engine.material_translation import transform_with_field

    net = MaterialTranslator(read_model_file(_export_with_exemplar(tmp_path)), engine="numpy")
    assert net.detail_default and net.exemplar.shape == (64, 96, 5)
    stack = _bricks(64)
    out, coords = transform_with_field(net, stack, 1.0, seed=3)  # detail: the translator's default (on)
    assert coords.shape == (64, 64, 2) and coords.dtype == np.int32
    assert (coords >= 0).all() and (coords[..., 0] < 64).all() and (coords[..., 1] < 96).all()
    read = lambda c: np.clip(apply_field(net.exemplar, c, REFINE_SOFTEN, False, PRESERVE_CONTRAST), 0, 1)  # noqa: E731
    np.testing.assert_allclose(out, read(coords), atol=1e-6)  # every map read through the one field
    np.testing.assert_array_equal(np.roll(read(coords), (9, 30), (0, 1)), read(np.roll(coords, (9, 30), (0, 1))))
    near_x, near_y = patch_cuts(coords, REFINE_SOFTEN)
    inside = ~(near_x | near_y)
    assert inside.mean() > 0.2  # inside the patches every albedo is an exemplar pixel's own colour
    np.testing.assert_allclose(out[inside][:, :3], net.exemplar[coords[..., 0], coords[..., 1]][inside][:, :3], atol=1e-6)
    assert seam_ratio(out[..., :3]) < 1.5
    again, same = transform_with_field(net, stack, 1.0, seed=3)
    assert np.array_equal(same, coords) and np.array_equal(again, out)  # deterministic per seed


def test_detail_step_strength_zero_off_and_skipped_without_an_exemplar(tmp_path):
    from blender_texgan.engine.material_translation import transform_with_field

    stack = _bricks(64)
    net = MaterialTranslator(read_model_file(_export_with_exemplar(tmp_path)), engine="numpy")
    out, coords = transform_with_field(net, stack, 0.0, detail=True)
    assert coords is None and np.array_equal(out, stack)  # strength 0: the input unchanged
    off, coords = transform_with_field(net, stack, 1.0, detail=False)
    # held as 16-bit (core.map_bands): the input's rounding (1 / 131070 at most) through the net's
    # gain (3.3e-4 here), a twelfth of an 8-bit step
    assert coords is None and np.abs(off - np.clip(net(stack), 0, 1)).max() < 1 / 1024
    plain = MaterialTranslator(read_model_file(_export(tmp_path)), engine="numpy")
    assert plain.exemplar is None and not plain.detail_default
    skipped, coords = transform_with_field(plain, stack, 1.0, detail=True)
    assert coords is None and np.array_equal(skipped, transform_stack(plain, stack, detail=False))
    maps = complete_map_set(split_channels(np.moveaxis(stack, -1, 0)), 4.0)
    half = transform_maps(maps, net, 0.5, detail=True, seed=1)  # the keyword entry the add-on uses
    assert set(half) == set(maps) and half["albedo"].shape == (64, 64, 3)


def test_translator_exemplar_is_validated(tmp_path):
    read_model_file(_export_with_exemplar(tmp_path))
    with pytest.raises(ModelFileError, match="not at the net's scale"):
        _export_with_exemplar(tmp_path, "bad.safetensors", guide_scale=2)
    model = read_model_file(_export_with_exemplar(tmp_path))
    manifest = json.loads(json.dumps(model.manifest))
    manifest["translator"]["detail"] = "yes"
    with pytest.raises(ModelFileError, match="'translator.detail' that is not true or false"):
        write_model_file(tmp_path / "bad.safetensors", model.tensors, manifest, exemplar=model.exemplar)


@pytest.mark.skipif(not BUNDLED.exists(), reason="no bundled clean_to_rusty_metal translator")
def test_bundled_translator_carries_its_targets_exemplar():
    model = read_model_file(BUNDLED)
    block = model.manifest["exemplar"]
    assert model.exemplar is not None and model.exemplar.shape == (block["height"], block["width"], 5)
    assert block["guide_scale"] == 1 and block["set"] == "rusty_metal_05"
    assert any(c.startswith("rusty_metal_05") and "CC0" in c for c in model.manifest["credits"])
    assert BUNDLED.stat().st_size < 3 * 1024 ** 2
    net = MaterialTranslator(model, engine="numpy")
    assert net.detail_default == model.manifest["translator"].get("detail", True)


# ---------------------------------------------------------------- in bands (an 8192 px transform in 3 GB)

@pytest.mark.parametrize("lattice", [(0, 0), (16, 24)])
def test_the_detail_field_read_in_bands_equals_the_whole_field(tmp_path, lattice):
    """field_rows reads a band with the field beyond it; any band size gives what one pass over the
    whole field does (synthesize, snap to the lattice, roll, read through it), on a regular
    material too (the lattice's residue is the whole field's)."""
    from blender_texgan.core.latent import grid_offset
    from blender_texgan.core.synthesis.lattice import snap_to_lattice
    from blender_texgan.core.synthesis.read_field import apply_field
    from blender_texgan.core.synthesis.refine import synthesize
    from blender_texgan.engine.generate import FIELD_ROLL, PRESERVE_CONTRAST, REFINE_SOFTEN
    from blender_texgan.engine.material_translation import detail_field, field_rows

    net = MaterialTranslator(read_model_file(_export_with_exemplar(tmp_path)), engine="numpy")
    net.model.manifest["exemplar"]["lattice"] = list(lattice)
    guide = np.random.default_rng(2).random((24, 16, 5)).astype(np.float32)
    coords = synthesize(net.analysis, 192, 128, 5, guide=guide)
    if any(lattice):
        coords = snap_to_lattice(coords, lattice, net.exemplar.shape[:2], periodic=False)
    coords = np.roll(coords, grid_offset(5, FIELD_ROLL), axis=(0, 1))
    whole = np.clip(apply_field(net.exemplar, coords, REFINE_SOFTEN, False, PRESERVE_CONTRAST), 0, 1)
    for band in (7, 64, 500):
        field = detail_field(net, 192, 128, 5, guide, band)
        parts = [field_rows(field, y0, min(192, y0 + band)) for y0 in range(0, 192, band)]
        np.testing.assert_array_equal(np.concatenate([p[1] for p in parts]), coords)
        np.testing.assert_array_equal(np.concatenate([p[0] for p in parts]), whole)


def test_a_large_transform_writes_what_the_map_set_would(tmp_path):
    """The terminal's path (16-bit source, bands, the maps gathered as the integers their PNGs
    hold) writes the same files as transform_maps' float MapSet, with and without the detail step."""
    from blender_texgan.core.png import encode_png
    from blender_texgan.engine.material_translation import transform_to_files

    net = MaterialTranslator(read_model_file(_export_with_exemplar(tmp_path)), engine="numpy")
    maps = complete_map_set(split_channels(np.moveaxis(_bricks(64, seed=3), -1, 0)), 4.0)
    for detail in (True, False):
        floats = transform_maps(maps, net, 0.8, normal_strength=3.0, detail=detail, seed=2)
        ints = transform_to_files(dict(maps), net, 0.8, normal_strength=3.0, detail=detail, seed=2)
        assert list(ints) == list(floats)
        for name, bits in (("albedo", 8), ("normal", 8), ("roughness", 8), ("height", 16)):
            assert ints[name].dtype == (np.uint16 if bits == 16 else np.uint8)
            assert encode_png(ints[name], bits) == encode_png(floats[name], bits), name


def test_a_large_transform_needs_tens_of_bytes_per_pixel(tmp_path, monkeypatch):
    """What lets an 8192 px transform fit in 3 GB: past the net's tile and the exemplar's analysis
    (the same at both sizes: both are tiled), the terminal's path grows by the 16-bit material, the
    16-bit translation and the maps it writes (measured: 35 bytes a pixel at these sizes), not by
    float copies of every step (the whole-image path before it: 678 bytes a pixel, measured at these
    sizes). Synthesis steps work in groups of CHUNK_PIXELS, a constant at 8192 px but not at these
    sizes: it is made small here. numpy's arrays are traced by tracemalloc."""
    import tracemalloc

    from blender_texgan.core.synthesis import refine
    from blender_texgan.engine.material_translation import transform_to_files

    monkeypatch.setattr(refine, "CHUNK_PIXELS", 1 << 14)
    net = MaterialTranslator(read_model_file(_export_with_exemplar(tmp_path)), engine="numpy")
    net.analysis  # noqa: B018 -- analysed once, outside what is measured

    def peak(size):
        maps = complete_map_set(split_channels(np.moveaxis(_bricks(size, seed=1), -1, 0)), 4.0)
        tracemalloc.start()
        transform_to_files(maps, net, 1.0, normal_strength=3.0, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return peak

    small, large = peak(768), peak(1536)
    per_pixel = (large - small) / (1536 ** 2 - 768 ** 2)
    assert per_pixel < 45, per_pixel  # 8192 px: 45 B x 67 M = 3.0 GB
