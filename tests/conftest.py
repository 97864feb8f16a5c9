"""Shared fixtures. Blender (bpy) is imported only through the `blender` fixture, which first points
its user resources at a temporary folder and installs the add-on from the built zip."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

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

    from blender_texgan.core.architecture import PeriodicGeneratorConfig
    from blender_texgan.core.latent import LatentLayout
    from blender_texgan.core.modelfile import write_model_file
    from blender_texgan.engine.nets import build_generator
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

    from blender_texgan.core.translator_arch import UNetConfig
    from blender_texgan.engine.translator_net import build_translator
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


# ---------------------------------------------------------------- markers (see pyproject.toml)

SLOW_MODULES = {"test_trainer", "test_bad_input", "test_end_to_end", "test_version_matrix", "test_bundled_models"}
BLENDER_MODULES = {"test_blender_addon", "test_blender_options", "test_version_matrix", "test_panel_picture",
                   "test_blender_photo"}


def pytest_collection_modifyitems(config, items):
    """`blender`: the test starts Blender (its fixture, or a Blender subprocess); `slow`: it trains or
    runs whole programs. `make check` runs the rest."""
    for item in items:
        module = item.module.__name__.rpartition(".")[2]
        if module in BLENDER_MODULES or "blender" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.blender)
        if module in SLOW_MODULES:
            item.add_marker(pytest.mark.slow)
