"""Every string and number in a model file is hostile: names never choose where files go, nesting
and numbers are bounded, and a file of the wrong kind says what it is and what takes it."""
from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import smooth_photo

from blender_texgan.core.modelfile import (
    MANIFEST_KEY,
    ModelFileError,
    read_manifest,
    read_model_file,
    safe_file_prefix,
    validate_manifest,
)

ROOT = Path(__file__).resolve().parent.parent
MODELS = ROOT / "blender_texgan" / "models"
MATERIAL_TRANSLATOR = MODELS / "translators" / "clean_to_rusty_metal.safetensors"
VAE = MODELS / "stone_wall_vae.safetensors"


# ---------------------------------------------------------------- crafting files by hand

def _split(src: Path) -> tuple[dict, bytes]:
    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def write_header(dst: Path, header_text: str, data: bytes) -> Path:
    """A safetensors file with exactly this header text (write_model_file would refuse it)."""
    raw = header_text.encode()
    dst.write_bytes(struct.pack("<Q", len(raw)) + raw + data)
    return dst


def craft(src: Path, dst: Path, edit=None, manifest_text: str | None = None) -> Path:
    """A copy of src whose manifest went through edit(manifest), or whose manifest is this text."""
    header, data = _split(src)
    if manifest_text is None:
        manifest = json.loads(header["__metadata__"][MANIFEST_KEY])
        edit(manifest)
        manifest_text = json.dumps(manifest)  # NaN and inf become the NaN / Infinity tokens
    header["__metadata__"][MANIFEST_KEY] = manifest_text
    return write_header(dst, json.dumps(header), data)


def named(name: str):
    return lambda m: m.__setitem__("name", name)


def assert_one_clear_line(exc: Exception, path: Path, *words: str) -> None:
    message = str(exc)
    assert message.isprintable(), repr(message)  # no newline, escape or NUL reaches the screen
    assert path.name in message and len(message) < 300, message
    for word in words:
        assert word in message, message


# ---------------------------------------------------------------- names

HOSTILE_NAMES = {
    "parent": "../../x", "absolute": "/tmp/abs", "newline": "a\nb", "ansi": "red\x1b[31m", "nul": "a\0b",
    "backslash": "..\\..\\x", "dot": ".hidden", "dotdot": "..", "long": "x" * 1000, "drive": "C:x",
    "bidi": "abc\u202etxt.exe", "tab": "a\tb", "blank": "   ",
}


@pytest.mark.parametrize("case", sorted(HOSTILE_NAMES))
def test_hostile_model_names_are_refused_at_load(case, tiny_model, tmp_path):
    bad = craft(tiny_model, tmp_path / f"{case}.safetensors", named(HOSTILE_NAMES[case]))
    with pytest.raises(ModelFileError) as info:
        read_manifest(bad)
    assert_one_clear_line(info.value, bad, "name")


@pytest.mark.parametrize("name", ["Stone Wall (v2)", "Béton brut", "rusty-metal_05", "Wall #3, v2.1", "石墙"])
def test_ordinary_model_names_load(name, tiny_model, tmp_path):
    ok = craft(tiny_model, tmp_path / "ok.safetensors", named(name))
    assert read_model_file(ok).name == name


@pytest.mark.parametrize("where, value, ok", [
    ("description", "First line.\nSecond line,\tindented.", True),
    ("description", "clears the screen \x1b[2J", False),
    ("credits", ["photo by \0someone"], False),
    ("license", "CC0\n1.0", False),
    ("review", "x" * 100_000, False),
])
def test_control_characters_and_lengths_in_other_strings(where, value, ok, tiny_model, tmp_path):
    path = craft(tiny_model, tmp_path / "text.safetensors", lambda m: m.__setitem__(where, value))
    if ok:
        assert read_manifest(path)[where] == value
        return
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path, where)


@pytest.mark.parametrize("words", ["rust\nx", "rust " * 100])
def test_material_translator_words_are_one_short_line(words, tmp_path):
    path = craft(MATERIAL_TRANSLATOR, tmp_path / "to.safetensors", lambda m: m["translator"].__setitem__("to", words))
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path)


@pytest.mark.parametrize("name", [*HOSTILE_NAMES.values(), "stone_wall", "Stone Wall (v2)", "", "CON", "a:b|c?d*e"])
def test_safe_file_prefix_stays_a_plain_name_inside_the_folder(name, tmp_path):
    prefix = safe_file_prefix(name)
    assert prefix and len(prefix) <= 64 and prefix.isprintable()
    assert not prefix.startswith(".") and not any(c in prefix for c in '/\\:<>"|?* ')
    target = (tmp_path / f"{prefix}_s0_albedo.png").resolve()
    assert target.parent == tmp_path.resolve()


def test_safe_file_prefix_keeps_plain_names():
    assert safe_file_prefix("stone_wall") == "stone_wall"
    assert safe_file_prefix("clean_metal_to_rusty_metal") == "clean_metal_to_rusty_metal"
    assert safe_file_prefix("Stone Wall (v2)") == "Stone_Wall_v2"
    assert safe_file_prefix("../../x") == "x"


def _run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "blender_texgan", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()}


@pytest.mark.parametrize("case", ["parent", "absolute", "ansi", "deep"])
@pytest.mark.parametrize("command", ["generate", "transform"])
def test_terminal_never_writes_where_a_model_file_says(command, case, tiny_model, tmp_path):
    """A crafted model given to the terminal: one clear line, exit 2, nothing written anywhere."""
    work = tmp_path / "work"
    (work / "tmp").mkdir(parents=True)
    if case == "deep":
        model = craft(tiny_model, work / "crafted.safetensors", manifest_text="[" * 100_000 + "]" * 100_000)
    else:
        escape = {"parent": "../../x", "absolute": str(tmp_path / "abs"), "ansi": "x\x1b[31m\nred"}[case]
        model = craft(tiny_model, work / "crafted.safetensors", named(escape))
    before = _files(tmp_path)
    extra = ["--translator", str(MATERIAL_TRANSLATOR)] if command == "transform" else []
    proc = _run_cli(command, "--model", str(model), *extra, "--size", "64", "--out", "tmp/out", cwd=work)
    assert proc.returncode == 2, proc.stderr[-2000:]
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "crafted.safetensors" in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr and "\x1b" not in proc.stderr
    assert _files(tmp_path) == before


# ---------------------------------------------------------------- nesting

def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize("depth", [33, 1000, 100_000])
def test_a_deeply_nested_manifest_is_one_line(depth, tiny_model, tmp_path):
    path = craft(tiny_model, tmp_path / "deep.safetensors", manifest_text=_nested(depth))
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path, "nested too deeply")


def test_deep_nesting_inside_a_valid_manifest_is_refused(tiny_model, tmp_path):
    deep = json.loads(_nested(40))
    path = craft(tiny_model, tmp_path / "deep.safetensors", lambda m: m["metrics"].__setitem__("x", deep))
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path, "nested too deeply")


@pytest.mark.parametrize("depth", [40, 100_000])
def test_a_deeply_nested_safetensors_header_is_one_line(depth, tiny_model, tmp_path):
    header, data = _split(tiny_model)
    text = json.dumps(header)[:-1] + ', "extra": ' + _nested(depth) + "}"
    path = write_header(tmp_path / "deep_header.safetensors", text, data)
    with pytest.raises(ModelFileError) as info:
        read_model_file(path)
    assert_one_clear_line(info.value, path, "nested too deeply")


def test_nesting_inside_strings_does_not_count(tiny_model, tmp_path):
    path = craft(tiny_model, tmp_path / "brackets.safetensors",
                 lambda m: m.__setitem__("description", "[" * 5000 + '"{' * 100))
    assert read_manifest(path)["description"].startswith("[[[")


# ---------------------------------------------------------------- numbers

def _set(*keys_and_value):
    *keys, value = keys_and_value

    def edit(m):
        for key in keys[:-1]:
            m = m[key]
        m[keys[-1]] = value
    return edit


NAN, INF = float("nan"), float("inf")
BAD_NUMBERS = {
    "normal_strength_huge": _set("normal_strength", 1e300),
    "normal_strength_nan": _set("normal_strength", NAN),
    "normal_strength_bool": _set("normal_strength", True),
    "native_tile_size_huge": _set("native_tile_size", 10 ** 9),
    "native_tile_size_text": _set("native_tile_size", "128"),
    "native_tile_size_float": _set("native_tile_size", 128.5),
    "real_world_size_inf": _set("real_world_size_m", INF),
    "real_world_size_negative": _set("real_world_size_m", -1.0),
    "latent_scale_bool": _set("latent", "scale", True),
    "latent_period_tiny": _set("latent", "periodic_periods", [1e-300]),
    "latent_period_inf": _set("latent", "periodic_periods", [INF]),
    "arch_float": _set("architecture", "config", "latent_channels", 8.0),
    "arch_bool_width": _set("architecture", "config", "channels", [16, True, 8]),
    "metric_nan": _set("metrics", "swd_ratio", NAN),
    "metric_inf_deep": _set("metrics", "neural", {"swd": -INF}),
    "training_seconds_text": _set("training", "seconds", "soon"),
    "training_steps_negative": _set("training", "steps", -5),
    "format_version_bool": _set("format_version", True),
    "huge_int": _set("metrics", "x", 10 ** 30),
}


@pytest.mark.parametrize("case", sorted(BAD_NUMBERS))
def test_absurd_or_non_finite_numbers_are_refused(case, tiny_model, tmp_path):
    path = craft(tiny_model, tmp_path / f"{case}.safetensors", BAD_NUMBERS[case])
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path)


@pytest.mark.parametrize("value", [1e300, NAN, 0.0, 1e-9])
def test_exemplar_normal_strength_is_bounded(value, exemplar_model, tmp_path):
    path = craft(exemplar_model, tmp_path / "strength.safetensors", _set("exemplar", "normal_strength", value))
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path, "normal_strength")


@pytest.mark.parametrize("keys", [("translator", "normal_strength"), ("translator", "working_scale")])
def test_translator_numbers_are_bounded(keys, tmp_path):
    path = craft(MATERIAL_TRANSLATOR, tmp_path / "t.safetensors", _set(*keys, 1e300))
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path, keys[1])


def test_an_integer_with_thousands_of_digits_is_one_line(tiny_model, tmp_path):
    header, data = _split(tiny_model)
    text = header["__metadata__"][MANIFEST_KEY]
    header["__metadata__"][MANIFEST_KEY] = text[:-1] + ', "steps_seen": ' + "9" * 5000 + "}"
    path = write_header(tmp_path / "digits.safetensors", json.dumps(header), data)
    with pytest.raises(ModelFileError) as info:
        read_manifest(path)
    assert_one_clear_line(info.value, path)


def test_absurd_tensor_shapes_in_the_header_are_one_line(tiny_model, tmp_path):
    header, data = _split(tiny_model)
    header["head.bias"]["shape"] = [0, 10 ** 30]
    header["head.bias"]["data_offsets"] = [0, 0]
    path = write_header(tmp_path / "shape.safetensors", json.dumps(header), data)
    with pytest.raises(ModelFileError) as info:
        read_model_file(path)
    assert_one_clear_line(info.value, path)


def test_every_bundled_manifest_passes(tmp_path):
    for path in sorted(MODELS.rglob("*.safetensors")):
        validate_manifest(read_manifest(path), path)


# ---------------------------------------------------------------- the wrong kind of file

def test_a_material_translator_given_as_a_model_says_what_takes_it():
    from blender_texgan.engine.generate import GenerationRequest, generate

    with pytest.raises(ModelFileError) as info:
        generate(GenerationRequest(str(MATERIAL_TRANSLATOR), 64, 0, engine="numpy"))
    assert_one_clear_line(info.value, MATERIAL_TRANSLATOR, "material translator", "transform --translator")
    assert "unknown architecture" not in str(info.value)


def test_a_photo_translator_given_as_a_model_says_what_takes_it(stand_in_translator):
    from blender_texgan.engine.latent.morph import MorphRequest, morph_sequence

    with pytest.raises(ModelFileError) as info:
        next(morph_sequence(MorphRequest(str(stand_in_translator), "1", "2", frames=2, size=64, engine="numpy")))
    assert_one_clear_line(info.value, stand_in_translator, "photo translator (photo -> maps)",
                          "photo2mat --translator", "Image to Material")


def test_a_generator_given_as_a_translator_says_what_it_is(tiny_model):
    from blender_texgan.engine.material_translation import load_material_translator
    from blender_texgan.engine.photo.pipeline import load_translator

    for load in (load_translator, load_material_translator):
        with pytest.raises(ModelFileError) as info:
            load(str(tiny_model), "numpy", "auto")
        assert_one_clear_line(info.value, tiny_model, "generator", "generate --model")


def test_a_photo_translator_given_as_a_material_translator(stand_in_translator):
    from blender_texgan.engine.material_translation import load_material_translator

    with pytest.raises(ModelFileError) as info:
        load_material_translator(str(stand_in_translator), "numpy")
    assert_one_clear_line(info.value, stand_in_translator, "photo translator", "photo2mat --translator")


def test_a_material_translator_given_as_a_photo_translator():
    from blender_texgan.engine.photo.pipeline import load_translator

    with pytest.raises(ModelFileError) as info:
        load_translator(str(MATERIAL_TRANSLATOR), "numpy", "auto")
    assert_one_clear_line(info.value, MATERIAL_TRANSLATOR, "material translator", "transform --translator")


def test_a_generator_given_where_a_vae_is_needed(tiny_model):
    from blender_texgan.engine.latent.variations import VariationsRequest, encode

    with pytest.raises(ModelFileError) as info:
        encode(smooth_photo(), VariationsRequest(model=str(tiny_model), size=64, engine="numpy"))
    assert_one_clear_line(info.value, tiny_model, "generator", "VAE")


def test_terminal_and_trainer_say_what_a_translator_file_is(tmp_path):
    """The terminal tools and `trainer eval`, before any work, one line each."""
    cases = [("blender_texgan", "generate", "--model", str(MATERIAL_TRANSLATOR), "--size", "64", "--out", "o"),
             ("blender_texgan", "interpolate", "--model", str(MATERIAL_TRANSLATOR), "--from", "1", "--to", "2",
              "--frames", "2", "--size", "64", "--out", "o"),
             ("blender_texgan", "transform", "--translator", str(VAE), "--size", "64", "--out", "o"),
             ("trainer", "eval", str(MATERIAL_TRANSLATOR), "--preset", "bricks")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for module, *args in cases:
        proc = subprocess.run([sys.executable, "-m", module, *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 2, (args, proc.stderr[-2000:])
        line = proc.stderr.strip().splitlines()[-1]
        expected = "texture VAE" if "--translator" in args else "material translator"
        assert expected in line and "unknown architecture" not in line, (args, proc.stderr)
    assert not _files(tmp_path)


# ---------------------------------------------------------------- the card and the library

def test_the_card_survives_odd_but_valid_measurements(tiny_model, tmp_path):
    """Null metrics, a baseline that is a list, a negative baseline: lines, never an exception."""
    def edit(m):
        m["metrics"] = {"swd_ratio": None, "seam_ratio": -1.0, "bandpass_albedo": 0.5, "coarse_swd": 0.2}
        m["quality"] = {"baseline": {"bandpass_albedo": -2.0, "coarse_swd": 0.1}}
    path = craft(tiny_model, tmp_path / "odd.safetensors", edit)
    from blender_texgan.engine.library import model_card

    lines = model_card(path)
    assert any(line.startswith("Quality:") for line in lines) and all(line.isprintable() for line in lines)
    craft(tiny_model, path, lambda m: m.__setitem__("quality", {"baseline": [1, 2]}))
    os.utime(path, ns=(1, 1))  # the card is cached by modification time
    assert model_card(path)


def test_nan_measurements_are_written_as_unmeasured(tiny_model, tmp_path):
    """A metric that came out NaN (a flat crop) must not make an exported file unloadable."""
    from blender_texgan.core.modelfile import write_model_file

    model = read_model_file(tiny_model)
    manifest = dict(model.manifest, metrics={"swd_ratio": float("nan"), "neural": {"seam": float("inf")}})
    path = write_model_file(tmp_path / "nan.safetensors", model.tensors, manifest)
    assert read_manifest(path)["metrics"] == {"swd_ratio": None, "neural": {"seam": None}}
    with pytest.raises(ModelFileError):
        write_model_file(tmp_path / "bad.safetensors", model.tensors, dict(model.manifest, normal_strength=NAN))
    assert not (tmp_path / "bad.safetensors").exists()


BLENDER_ADDON = "bl_ext.user_default.blender_texgan"


def test_blender_lists_and_refuses_crafted_models_in_one_line_leaving_nothing(blender, tiny_model, tmp_path):
    """Deep nesting and a hostile name, from the user's model folder: the list offers them, the card
    and Generate Material say what is wrong in one line, and no datablock or file is left."""
    import importlib

    bpy = blender
    folder = tmp_path / "library"
    folder.mkdir()
    crafted = [craft(tiny_model, folder / "deep.safetensors", manifest_text=_nested(100_000)),
               craft(tiny_model, folder / "hostile.safetensors", named("../../x\x1b[31m\nred"))]
    library = importlib.import_module(f"{BLENDER_ADDON}.engine.library")
    prefs = bpy.context.preferences.addons[BLENDER_ADDON].preferences
    settings = bpy.context.scene.texgan
    prefs.models_dir = str(folder)
    files = _files(tmp_path)
    try:
        for path in crafted:
            settings.model = "user:" + path.stem  # the model list offers it
            card = library.model_card(settings.model_argument())
            assert len(card) == 1 and path.name in card[0] and card[0].isprintable(), card
            bpy.ops.object.select_all(action="DESELECT")
            bpy.ops.mesh.primitive_plane_add(size=2.0)
            plane = bpy.context.active_object
            before = ({m.name for m in bpy.data.materials}, {i.name for i in bpy.data.images})
            with pytest.raises(RuntimeError) as info:
                bpy.ops.texgan.generate_material(model=settings.model_argument(), resolution=64, seed=0)
            message = str(info.value).strip()
            assert "\n" not in message and "\x1b" not in message and "Traceback" not in message, message
            assert path.name in message and ("nested too deeply" in message or "model name" in message), message
            assert ({m.name for m in bpy.data.materials}, {i.name for i in bpy.data.images}) == before
            assert plane.active_material is None
    finally:
        prefs.models_dir = ""
        settings.model = library.default_model_name()
    assert _files(tmp_path) == files


def test_generate_names_its_files_with_the_safe_prefix_of_a_legal_name(tiny_model, tmp_path):
    """A legal but unusual name ('Stone Wall (v2)') still becomes a plain file-name prefix."""
    model = craft(tiny_model, tmp_path / "odd.safetensors", named("Stone Wall (v2)"))
    out = tmp_path / "out"
    done = _run_cli("generate", "--model", str(model), "--size", "64", "--engine", "numpy", "--out", str(out),
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert {p.name for p in _files(out)} == {f"Stone_Wall_v2_s0_{m}.png" for m in ("albedo", "normal", "roughness", "height")}
