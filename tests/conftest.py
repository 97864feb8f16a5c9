"""Shared fixtures. Blender (bpy) is imported only through the `blender` fixture, which first points
its user resources at a temporary folder and installs the add-on from the built zip."""
from __future__ import annotations

import os

# One thread per test process (and per program a test starts: they inherit it), set before torch or numpy
# load their thread pools. On a busy 2-core machine two OpenMP threads spin-wait for each other: 60 steps of
# test_vae's training took 82 CPU s with two threads and 11 with one (benchmarks/results/test_times.txt),
# and `make test` runs two test processes side by side (pytest-xdist) anyway.
os.environ.setdefault("OMP_NUM_THREADS", "1")
# The programs the tests start (some 150 Pythons) share compiled bytecode, kept outside the source folders, also
# where PYTHONDONTWRITEBYTECODE is set (as on this machine): each would otherwise compile every module it imports
# at every start (0.15-0.35 s a program on a fresh clone).
if os.environ.pop("PYTHONDONTWRITEBYTECODE", None):
    os.environ.setdefault("PYTHONPYCACHEPREFIX", os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))), ".pytest_cache", "pycache"))

import json
import re
import shutil
import struct
import subprocess
import sys
import threading
import time
import types
import zlib
from pathlib import Path

import numpy as np
import pytest

from blender_texgan.core.modelfile import MANIFEST_KEY, read_model_file, write_model_file

ROOT = Path(__file__).resolve().parent.parent

TINY_CHANNELS = (16, 12, 8)  # latent scale 4


@pytest.fixture(scope="session")
def built_zip(tmp_path_factory) -> Path:
    import build
    return build.build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def blender(tmp_path_factory, built_zip):
    """Real Blender with the add-on installed from its zip into a fresh user folder and enabled."""
    from scripts import headless
    bpy = headless.start(tmp_path_factory.mktemp("blender-user"))
    headless.validate_extension(built_zip)
    headless.install_extension(built_zip)
    return bpy


def make_tiny_model(path: Path, seed: int = 0, name: str = "tiny", upsample: str = "bilinear",
                    exemplar: np.ndarray | None = None, guide_scale: int = 2) -> Path:
    """A randomly initialised small generator written as a model file (no training needed),
    optionally carrying an (h, w, 5) exemplar for refined generation."""
    import torch

    from blender_texgan.core.arch.generator import PeriodicGeneratorConfig
    from blender_texgan.core.latent import LatentLayout
    from blender_texgan.engine.nets.generator import build_generator
    from trainer.export import build_manifest

    torch.manual_seed(seed)
    layout = LatentLayout(local_channels=4, global_channels=2, periodic_periods=(2.0,), scale=4)
    cfg = PeriodicGeneratorConfig(latent_channels=layout.channels, channels=TINY_CHANNELS, upsample=upsample)
    net = build_generator(cfg)
    options = {"preset": "bricks", "data": None, "crop": 32, "batch": 2, "command": "tests"}
    manifest = build_manifest(name, cfg, layout, options=options, step=0, seconds=0.0, normal_strength=6.0,
                              data_description="nothing (untrained)", description="test model")
    if exemplar is not None:
        manifest["exemplar"] = {"guide_scale": guide_scale, "normal_strength": 6.0, "periodic": True}
    return write_model_file(path, {k: v.detach().numpy() for k, v in net.state_dict().items()}, manifest,
                            exemplar=exemplar)


def brick_exemplar(size: int = 128, seed: int = 0) -> np.ndarray:
    """A periodic procedural brick set as an (h, w, 5) stack; its height equals its albedo's red."""
    from blender_texgan.core.maps import stack_channels
    from trainer.procedural import make_material

    stack = np.moveaxis(stack_channels(make_material("bricks", seed, size)), 0, -1).copy()
    stack[..., 3] = stack[..., 0]
    return stack


@pytest.fixture(scope="session")
def exemplar_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models") / "bricks_ex.safetensors", name="bricks_ex",
                           upsample="nearest", exemplar=brick_exemplar())


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny.safetensors")


@pytest.fixture(scope="session")
def tiny_nearest_model(tmp_path_factory) -> Path:
    """A periodic_sgan_v1 (nearest upsampling) model, like the bundled ones."""
    return make_tiny_model(tmp_path_factory.mktemp("models") / "tiny_v1.safetensors", upsample="nearest")


def make_stand_in_translator(path: Path, seed: int = 0) -> Path:
    """A randomly initialised small translator written as a model file named like the bundled
    default (photo_to_pbr): the add-on's photo tools run on it; its maps mean nothing."""
    import torch

    from blender_texgan.core.arch.photo_translator import UNetConfig
    from blender_texgan.engine.nets.photo_translator import build_translator
    from trainer.translator import export_translator

    torch.manual_seed(seed)
    cfg = UNetConfig((8, 12, 16))
    return export_translator(build_translator(cfg), cfg, path, "photo_to_pbr", training={})


@pytest.fixture(scope="session")
def stand_in_translator(tmp_path_factory) -> Path:
    return make_stand_in_translator(tmp_path_factory.mktemp("translators") / "photo_to_pbr.safetensors")


def smooth_photo(height: int = 96, width: int = 96, seed: int = 0) -> np.ndarray:
    """A small non-periodic 'photo': blurred colour noise with blobs, under a lighting gradient."""
    rng = np.random.default_rng(seed)
    noise = rng.random((height + 8, width + 8, 3)).astype(np.float32)
    blurred = sum(noise[dy:dy + height, dx:dx + width] for dy in range(0, 8, 2) for dx in range(0, 8, 2)) / 16
    light = np.linspace(0.8, 1.1, width, dtype=np.float32)[None, :, None]
    return np.clip(((blurred - 0.5) * 3.0 + 0.5) * light, 0.0, 1.0)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# ---------------------------------------------------------------- tiny training runs (trainer subprocesses)
# A trainer process spends its first 10-20 s importing torch on a busy 2-core machine: runs that
# several tests only read are made once per session; tests that change a run work on a copy.

TINY_TRAIN = ["--crop", "32", "--batch", "2", "--channels", "16,12,8", "--local-channels", "8",
              "--global-channels", "4", "--pool-count", "4", "--pool-size", "64", "--eval-count", "8",
              "--device", "cpu"]
REFERENCE_RUN_ARGS = ["--preset", "bricks", "--steps", "40", "--ckpt-every", "5", "--sample-every", "1000",
                      "--eval-every", "0", *TINY_TRAIN]
SHORT_RUN_ARGS = ["--preset", "bricks", "--steps", "2", "--eval-every", "0", *TINY_TRAIN]


def _train(run: Path, args: list[str]) -> Path:
    result = subprocess.run([sys.executable, "-m", "trainer", "train", "--out", str(run), *args], cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    return run


def made_once(tmp_path_factory, name: str, make) -> Path:
    """`make(folder)` run once per `pytest` command, even with several pytest-xdist workers: the
    first worker to ask makes it (in the folder the workers' temporary folders share) while the
    others wait on a file lock, then every worker reads the same folder. Returns the folder."""
    from filelock import FileLock

    if "PYTEST_XDIST_WORKER" not in os.environ:
        folder = tmp_path_factory.mktemp(name)
        make(folder)
        return folder
    shared = tmp_path_factory.getbasetemp().parent / f"once-{name}"
    with FileLock(f"{shared}.lock"):
        done = shared / ".made"
        if not done.exists():
            shutil.rmtree(shared, ignore_errors=True)  # what a worker that failed half-way left
            shared.mkdir()
            make(shared)
            done.touch()
    return shared


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory) -> Path:
    """40 uninterrupted steps (REFERENCE_RUN_ARGS): what an interrupted or killed run must end up
    identical to. Read only."""
    return made_once(tmp_path_factory, "reference", lambda folder: _train(folder / "run", REFERENCE_RUN_ARGS)) / "run"


@pytest.fixture(scope="session")
def short_run(tmp_path_factory) -> Path:
    """Two steps (SHORT_RUN_ARGS). Read only: `run_copy` gives a test its own copy."""
    return made_once(tmp_path_factory, "short", lambda folder: _train(folder / "run", SHORT_RUN_ARGS)) / "run"


@pytest.fixture
def run_copy(short_run, tmp_path) -> Path:
    copy = tmp_path / "run"
    shutil.copytree(short_run, copy)
    return copy


class StderrWatcher:
    """Reads a child's stderr as it comes (in a thread), so a test can wait for what the child says
    (tqdm's progress: the log file is written in blocks) and still get all of it at the end."""

    def __init__(self, proc: subprocess.Popen):
        self.proc, self._chunks = proc, []
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        fd = self.proc.stderr.fileno()
        while chunk := os.read(fd, 65536):
            self._chunks.append(chunk)

    @property
    def text(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait_for_steps(self, steps: int = 1, timeout: float = 300) -> None:
        """Until the progress bar shows `steps` whole steps done; fails if the child ends first."""
        deadline = time.time() + timeout
        while time.time() < deadline and self.proc.poll() is None:
            done = [int(n) for n in re.findall(r"\|\s*(\d+)/\d+ \[", self.text)]
            if done and max(done) >= steps:
                return
            time.sleep(0.05)
        self.proc.kill()
        self.proc.wait()
        pytest.fail(f"the trainer showed fewer than {steps} steps done:\n{self.text[-2000:]}")

    def finish(self, timeout: float = 120) -> str:
        """Wait for the child to end; everything it wrote to stderr."""
        self.proc.wait(timeout=timeout)
        self._thread.join(timeout=10)
        return self.text


# ---------------------------------------------------------------- malformed model files

def rewrite_header(src, dst, edit):
    """Copy a model file with its safetensors header (a dict) changed by `edit`."""
    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    edit(header)
    new = json.dumps(header).encode()
    dst.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n:])
    return dst


def edit_manifest(edit):
    """A header edit that changes the manifest (a dict) by `edit`."""
    def apply(header):
        manifest = json.loads(header["__metadata__"][MANIFEST_KEY])
        edit(manifest)
        header["__metadata__"][MANIFEST_KEY] = json.dumps(manifest)
    return apply


# Ways a model file can be malformed (test_modelfile: one clear line each; test_safetensors_reference:
# whatever the reference library refuses, we refuse too): name -> (source, destination) -> destination.
MALFORMED = {
    "truncated": lambda src, dst: dst.write_bytes(src.read_bytes()[: len(src.read_bytes()) // 2]) and dst,
    "tiny": lambda src, dst: dst.write_bytes(b"\x01\x02") and dst,
    "not_safetensors": lambda src, dst: dst.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 200) and dst,
    "huge_header_length": lambda src, dst: dst.write_bytes(struct.pack("<Q", 2 ** 40) + b"{}") and dst,
    "bad_json": lambda src, dst: dst.write_bytes(struct.pack("<Q", 5) + b"{oops") and dst,
    "no_manifest": lambda src, dst: rewrite_header(src, dst, lambda h: h.pop("__metadata__")),
    "manifest_not_json": lambda src, dst: rewrite_header(
        src, dst, lambda h: h["__metadata__"].__setitem__(MANIFEST_KEY, "{nope")),
    "unknown_version": lambda src, dst: rewrite_header(
        src, dst, edit_manifest(lambda m: m.__setitem__("format_version", 99))),
    "unknown_architecture": lambda src, dst: rewrite_header(
        src, dst, edit_manifest(lambda m: m["architecture"].__setitem__("name", "mystery"))),
    "missing_tensor": lambda src, dst: rewrite_header(src, dst, lambda h: h.pop("head.bias")),
    "misshaped_tensor": lambda src, dst: rewrite_header(
        src, dst, lambda h: h["head.bias"].__setitem__("shape", [1, h["head.bias"]["shape"][0]])),
    "offsets_past_end": lambda src, dst: rewrite_header(
        src, dst, lambda h: h["head.bias"].__setitem__("data_offsets", [10 ** 9, 10 ** 9 + 20])),
}


def with_exemplar(tiny_model, tmp_path, size=(48, 40)):
    """The tiny model written again carrying a random (h, w, 5) exemplar: (path, exemplar)."""
    model = read_model_file(tiny_model)
    rng = np.random.default_rng(0)
    exemplar = rng.random((*size, 5)).astype(np.float32)
    path = write_model_file(tmp_path / "ex.safetensors", model.tensors, model.manifest, exemplar=exemplar)
    return path, exemplar


def drop_tensor(name):
    return lambda h: h.pop(name)


# Ways a model file's exemplar can be malformed: name -> (header edit, words of the one-line error).
EXEMPLAR_MALFORMED = {
    "map missing": (drop_tensor("exemplar.height"), "lacks its 'height' map"),
    "wrong shape": (lambda h: h["exemplar.albedo"].__setitem__("shape", [40, 48, 3]), "exemplar 'albedo' map"),
    "wrong dtype": (lambda h: h["exemplar.roughness"].update(dtype="F16", shape=[48, 20, 1]), "exemplar 'roughness'"),
    "block says too big": (edit_manifest(lambda m: m["exemplar"].__setitem__("height", 100000)), "exemplar height"),
    "block not an object": (edit_manifest(lambda m: m.__setitem__("exemplar", [1, 2])), "malformed exemplar"),
    "tensors without block": (edit_manifest(lambda m: m.pop("exemplar")), "no exemplar block"),
    "metadata not a string": (lambda h: h["__metadata__"].__setitem__("note", 3), "strings to strings"),
}


# ---------------------------------------------------------------- markers (see pyproject.toml)

SLOW_MODULES = {"test_trainer", "test_bad_input", "test_end_to_end", "test_version_matrix", "test_bundled_models"}
BLENDER_MODULES = {"test_blender_addon", "test_blender_options", "test_version_matrix", "test_panel_picture",
                   "test_blender_photo"}


# Tests (module::function, every parameter) and module fixtures (module::fixture: every test that uses
# it) that `make check` leaves to `make test`: each took 1.5 s or more (a shared fixture counted once)
# on a loaded 2-core machine, or ran programs in subprocesses (benchmarks/results/test_times.txt).
SLOW_TESTS = {
    "test_adam::test_a_training_process_does_not_import_the_compiler",
    "test_engines::test_job_lifecycle_progress_and_result",
    "test_hostile_models::test_terminal_never_writes_where_a_model_file_says",
    "test_hostile_models::test_terminal_and_trainer_say_what_a_translator_file_is",
    "test_photo2mat::test_a_folder_run_goes_past_bad_files",
    "test_photo_memory::test_seamless_of_a_4096_photo_stays_under_1_5_gb",
    "test_photo_memory::test_the_material_translator_in_tiles_equals_one_pass",
    "test_quilt::test_cut_visibility_fails_the_old_synthesis_and_passes_the_new",
    "test_refine::test_verbatim_copies_stay_small",
    "test_refined_generation::test_one_seed_gives_the_same_output_on_both_engines",
    "test_refined_generation::test_refined_maps_tile_exactly",
    "test_refined_generation::test_seeds_differ_and_nothing_is_pasted_back",
    "test_seamless::test_a_folder_run_goes_past_bad_files_and_lists_them",
    "test_seamless::test_seamless_output_tiles_exactly_and_stays_close_to_the_photo",
    "test_seamless::test_without_pillow_the_command_says_so_in_one_line",
    "test_transform::test_a_large_transform_needs_tens_of_bytes_per_pixel",
    "test_transform::test_bundled_translator_loads_and_its_translation_tiles",
    "test_transform::test_cyclegan_learns_a_colour_shift_and_comes_back",
    "test_transform::test_the_detail_field_read_in_bands_equals_the_whole_field",
    "test_transform::test_translation_is_exactly_periodic",
    "test_translator::test_any_photo_size_runs_and_keeps_its_size",
    "test_translator_step::test_a_batch_reads_real_crops_of_its_sets_turned_by_a_symmetry",
    "test_translator_step::test_a_time_boxed_run_checkpoints_by_the_clock_and_leaves_a_model",
}
SLOW_FIXTURES = {"test_vae::trained", "test_structure_metrics::sets"}
SLOW_SESSION_FIXTURES = {"reference_run", "short_run", "run_copy"}  # trainer subprocesses


@pytest.hookimpl(tryfirst=True)  # the order below is the one pytest-xdist's workers report
def pytest_collection_modifyitems(config, items):
    """`blender`: the test starts Blender (its fixture, or a Blender subprocess); `slow`: it trains,
    runs whole programs or takes seconds. `make check` runs the rest. Then the work units in
    LONGEST_FIRST order, each module's tests together and in file order."""
    for item in items:
        module = item.module.__name__.rpartition(".")[2]
        fixtures = getattr(item, "fixturenames", ())
        if module in BLENDER_MODULES or "blender" in fixtures:
            item.add_marker(pytest.mark.blender)
        if (module in SLOW_MODULES or f"{module}::{item.originalname}" in SLOW_TESTS
                or any(f"{module}::{f}" in SLOW_FIXTURES or f in SLOW_SESSION_FIXTURES for f in fixtures)):
            item.add_marker(pytest.mark.slow)
    rank = {unit: i for i, unit in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(work_unit(item.nodeid), len(rank)))  # stable


# ---------------------------------------------------------------- parallel runs (pytest-xdist)
# `make test` runs two test processes side by side (pytest -n 2). pytest-xdist hands them work units: a
# module is one (its module fixtures are made once) and the modules that use Blender in the test process
# (the `blender` fixture) are one together (bpy starts and installs the zip once). Units start in
# LONGEST_FIRST order (measured, benchmarks/results/test_times.txt), the rest after them in file order,
# so that neither process is left with a long one at the end. (xdist_group marks would say the same, but
# pytest-xdist 3.8 cannot rename a test for them under pytest 9: the scheduler below does it.)

IN_PROCESS_BLENDER = {"test_blender_addon", "test_blender_infinite", "test_blender_latent", "test_blender_options",
                      "test_blender_photo", "test_blender_photo_robustness", "test_panel_picture"}
LONGEST_FIRST = ["blender", "test_translator", "test_engines", "test_bad_input", "test_transform", "test_trainer",
                 "test_vae", "test_end_to_end", "test_trainer_robustness", "test_photo_memory", "test_version_matrix",
                 "test_gpu_window"]


def work_unit(nodeid: str) -> str:
    """The work unit of a test: its module's name, or "blender" for IN_PROCESS_BLENDER's modules."""
    module = Path(nodeid.split("::", 1)[0]).stem
    return "blender" if module in IN_PROCESS_BLENDER else module


@pytest.hookimpl(optionalhook=True)  # a hook of pytest-xdist: without it (-p no:xdist) the tests run in one process
def pytest_xdist_make_scheduler(config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByWorkUnit(LoadScopeScheduling):
        """pytest-xdist's load-by-scope scheduling with work_unit as the scope, in collection order."""

        def __init__(self, config, log=None):
            super().__init__(config, log)
            config.option.loadscopereorder = False  # keep LONGEST_FIRST, not the most tests first

        def _split_scope(self, nodeid: str) -> str:
            return work_unit(nodeid)

    return ByWorkUnit(config, log)


# ---------------------------------------------------------------- helpers shared by test modules
# Imported by name (`from conftest import new_plane`): test modules never import from each other.

GRAVEL = ROOT / "benchmarks" / "data" / "skimage" / "gravel.png"  # CC0, scikit-image's sample


def one_line(err: str, *words: str) -> str:
    """The one line a refused command printed; it holds every word of `words`."""
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    assert all(w.lower() in lines[0].lower() for w in words), lines[0]
    return lines[0]


def png_header_only(path: Path, width: int, height: int) -> None:
    """A PNG whose header claims width x height pixels (and holds none)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = struct.pack(">I", len(ihdr)) + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk + struct.pack(">I", 0) + b"IEND" + struct.pack(">I", zlib.crc32(b"IEND")))


def good_files(folder: Path, photo: np.ndarray) -> dict[str, str]:
    """Every image kind the photo tools must take, written to `folder`: name -> the PNG mode of the result."""
    from PIL import Image

    from blender_texgan.core.png import write_png

    grey = (photo[:64, :64, 0] * 255).astype(np.uint8)
    rgb = np.stack([grey, grey // 2, 255 - grey], axis=-1)
    Image.fromarray(grey).save(folder / "grey.png")
    Image.fromarray(rgb).save(folder / "colour.jpg", quality=95)
    Image.fromarray(np.dstack([rgb, np.full_like(grey, 128)])).save(folder / "alpha.png")
    write_png(folder / "deep.png", photo[:64, :64], bits=16)
    Image.fromarray(rgb).convert("CMYK").save(folder / "print.jpg", quality=95)
    return {"grey": "L", "colour": "RGB", "alpha": "RGB", "deep": "I;16", "print": "RGB"}


def bad_files(folder: Path) -> dict[str, str]:
    """Files the photo tools must refuse, written to `folder`: name -> a word its one-line reason holds."""
    from PIL import Image

    from blender_texgan.core.png import write_png

    write_png(folder / "ok.png", np.full((64, 64, 3), 0.5))
    raw = (folder / "ok.png").read_bytes()
    (folder / "ok.png").unlink()
    (folder / "truncated.png").write_bytes(raw[: len(raw) // 2])
    (folder / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    (folder / "notes.txt").write_text("not a picture\n")
    Image.new("RGB", (1, 1), (10, 20, 30)).save(folder / "dot.png")
    png_header_only(folder / "huge.png", 30000, 30000)
    return {"truncated.png": "truncated", "corrupt.png": "", "notes.txt": "not an image",
            "dot.png": "too small", "huge.png": "too large"}


# A wall of brick columns photographed tilted: its columns meet TILTED_DISTANCE px above the centre.
TILTED_SIDE = 320
TILTED_DISTANCE = 600.0


def brick_columns(side: int, seed: int = 0) -> np.ndarray:
    """(side, side, 3) wall of upright brick columns (bricks of random height, light mortar), seen straight on."""
    rng = np.random.default_rng(seed)
    img = np.empty((side, side, 3), np.float32)
    col_w, mortar = 22, 3
    for x0 in range(0, side, col_w):
        y = -int(rng.integers(0, 60))
        while y < side:
            h = int(rng.integers(40, 80))
            tone = rng.uniform(0.25, 0.45) * np.array([1.0, 0.8, 0.7])
            img[max(y, 0):max(y + h, 0), x0:x0 + col_w] = tone
            img[max(y, 0):max(y + mortar, 0), x0:x0 + col_w] = 0.85
            y += h
        img[:, x0:x0 + mortar] = 0.85
    return np.clip(img + rng.normal(0, 0.02, img.shape).astype(np.float32), 0, 1)


def seen_in_perspective(wall: np.ndarray, side: int, distance: float) -> np.ndarray:
    """The wall photographed tilted: its columns meet `distance` px above the photo's centre.
    (The straightening homography with g = (0, 1/distance) maps photo to wall; its inverse is the
    same map with -g, which is what _warp samples through, around the wall's centre.)"""
    from blender_texgan.core.photo.perspective import _warp

    half = side // 2
    return _warp(wall, (0.0, -1.0 / distance), (-half, -half, side - half, side - half))


def tilted_wall() -> np.ndarray:
    return seen_in_perspective(brick_columns(2 * TILTED_SIDE), TILTED_SIDE, TILTED_DISTANCE)


def column_convergence(image: np.ndarray) -> float:
    """Tilt change of near-vertical edges across the image, radians (0: parallel columns)."""
    from blender_texgan.core.photo.perspective import FAMILY_SPREAD, _edges, _family_fit
    from blender_texgan.core.photo.seamless import luminance

    gx, gy, m2, strong = _edges(luminance(image).astype(np.float64))
    h, w = gx.shape
    xs = np.mgrid[0:h, 0:w][1].astype(np.float64) - (w - 1) / 2
    sel = strong & (np.abs(gy) <= FAMILY_SPREAD * np.abs(gx))
    return _family_fit(-gy[sel] / gx[sel], xs[sel], m2[sel])[1] * w


# ---------------------------------------------------------------- helpers for tests in real Blender

ADDON = "bl_ext.user_default.blender_texgan"  # the installed add-on's package (extension repository user_default)
EXPECTED_NODES = sorted(["ShaderNodeTexCoord", "ShaderNodeMapping", "ShaderNodeTexImage", "ShaderNodeTexImage",
                         "ShaderNodeTexImage", "ShaderNodeTexImage", "ShaderNodeNormalMap",
                         "ShaderNodeDisplacement", "ShaderNodeBsdfPrincipled", "ShaderNodeOutputMaterial",
                         "NodeFrame"])


def addon(name: str = ""):
    """The installed add-on's module `name` (e.g. "engine.generate"), or the add-on itself."""
    import importlib

    return importlib.import_module(f"{ADDON}.{name}" if name else ADDON)


def new_plane(bpy):
    bpy.ops.object.select_all(action="DESELECT")
    bpy.ops.mesh.primitive_plane_add(size=2.0)
    return bpy.context.active_object


def datablocks(bpy):
    """The names of every material and image: what an operator that failed must leave unchanged."""
    return {m.name for m in bpy.data.materials}, {i.name for i in bpy.data.images}


def link_set(tree):
    """A node tree's links as ((node, socket), (node, socket)) pairs; image nodes by their label."""
    def describe(socket):
        node = socket.node
        label = node.label.lower() if node.bl_idname == "ShaderNodeTexImage" else node.bl_idname
        return label, socket.name
    return {(describe(link.from_socket), describe(link.to_socket)) for link in tree.links}


def image_datablock(bpy, name: str, photo: np.ndarray, float_buffer: bool = False):
    """An Image datablock holding `photo` ((H, W, 3) in [0, 1], top row first)."""
    h, w = photo.shape[:2]
    image = bpy.data.images.new(name, w, h, alpha=True, float_buffer=float_buffer)
    rgba = np.ones((h, w, 4), np.float32)
    rgba[..., :3] = photo
    image.pixels.foreach_set(rgba[::-1].ravel())
    return image


def material_images(material) -> dict:
    """A material's image nodes' images by the node's label: albedo, normal, roughness, height."""
    return {n.label.lower(): n.image for n in material.node_tree.nodes if n.bl_idname == "ShaderNodeTexImage"}


def image_pixels(image) -> np.ndarray:
    """An Image datablock's RGB as an (H, W, 3) array, top row first."""
    w, h = image.size
    px = np.empty(w * h * 4, np.float32)
    image.pixels.foreach_get(px)
    return px.reshape(h, w, 4)[::-1, :, :3]


class LayoutRecorder:
    """Stands in for UILayout: records every call; sub-layouts record into the same list."""

    def __init__(self):
        self.calls = []

    def __getattr__(self, name):
        def call(*args, **kwargs):
            self.calls.append((name, args, kwargs))
            return types.SimpleNamespace() if name == "operator" else self
        return call


def run_blender_script(name: str, tmp_path, *args) -> dict:
    """Run tests/blender_scripts/NAME in a fresh Blender (its own process and user folder) with
    ARGS then an output path; returns the JSON it wrote there."""
    out = tmp_path / f"{Path(name).stem}.json"
    script = Path(__file__).parent / "blender_scripts" / name
    # its own user folder and caches (EEVEE's compiled shaders, Mesa's): a test never writes to a home folder
    env = dict(os.environ, BLENDER_USER_RESOURCES=str(tmp_path / "user"), XDG_CACHE_HOME=str(tmp_path / "cache"),
               MESA_SHADER_CACHE_DIR=str(tmp_path / "cache" / "mesa"))
    proc = subprocess.run([sys.executable, str(script), *map(str, args), str(out)],
                          capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(out.read_text())
