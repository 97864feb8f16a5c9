"""Training data: procedural presets or a folder of textures, as (C, H, W) stacks in [0, 1].

The channel order is blender_texgan.core.maps.GENERATED_CHANNELS (albedo, height, roughness); the
normal map is not trained on because it is derived from height. Every source also yields held-out
crops (never trained on) and reference crops from the training region, for the metrics.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from blender_texgan.core.maps import stack_channels
from blender_texgan.core.png import write_png

from .folder import DataError, load_folder  # noqa: F401  (DataError: re-exported for callers)
from .metrics import holdout_split, random_crop
from .procedural import NORMAL_STRENGTH, PRESETS, make_material

HELDOUT_FRACTION = 0.25  # bottom quarter of every real exemplar is never trained on
MAX_EXEMPLAR_SIDE = 1024  # the exemplar a model carries: photos are halved until they fit
GUIDE_SCALE = 4           # auto working scale: the net sees the exemplar shrunk this much more


def write_material(out_dir: Path, name: str, maps: dict[str, np.ndarray]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    return [write_png(out_dir / f"{name}_{m}.png", arr, bits=16 if m == "height" else 8)
            for m, arr in maps.items()]


def preset_stacks(preset: str, count: int, size: int, seed: int = 0) -> list[np.ndarray]:
    return [stack_channels(make_material(preset, seed * 100_003 + i, size)) for i in range(count)]


class CropSampler:
    """Random crops from a list of stacks as a float32 batch (B, C, h, w).

    Crops wrap around only for stacks marked periodic; others stay inside the image. The random
    state can be saved and restored, so a resumed run draws the same crops.
    """

    def __init__(self, stacks: list[np.ndarray], crop: int, seed=0, wrap: list[bool] | None = None):
        wrap = [True] * len(stacks) if wrap is None else wrap
        keep = [i for i, s in enumerate(stacks) if min(s.shape[1:]) >= crop]
        if not keep:
            raise DataError(f"Every texture is smaller than the crop size {crop} pixels.")
        self.stacks = [stacks[i] for i in keep]
        self.wrap = [wrap[i] for i in keep]
        self.crop = crop
        self.rng = np.random.default_rng(seed)

    def sample(self, batch: int) -> np.ndarray:
        out = np.empty((batch, self.stacks[0].shape[0], self.crop, self.crop), np.float32)
        for b in range(batch):
            i = int(self.rng.integers(len(self.stacks)))
            out[b] = random_crop(self.stacks[i], self.crop, self.rng, self.wrap[i])
        return out

    def get_state(self) -> str:
        return json.dumps(self.rng.bit_generator.state)

    def set_state(self, state: str) -> None:
        self.rng.bit_generator.state = json.loads(state)


@dataclass
class TrainingData:
    stacks: list[np.ndarray]     # training stacks (C, H, W)
    wrap: list[bool]             # per stack: may crops wrap around?
    heldout: list[np.ndarray]    # stacks never trained on, for metrics
    heldout_wrap: list[bool]
    description: str             # for manifests: where the data came from
    normal_strength: float       # relief in pixels of a 0 -> 1 height step
    credits: list[str]           # source names for the manifest
    exemplar: np.ndarray | None = None  # (C, h, w) training region at the exemplar's scale (the model carries it)
    exemplar_normal_strength: float = NORMAL_STRENGTH
    guide_scale: int = 1         # net pixels per exemplar pixel: the net works this much coarser
    downsample: int = 1          # the net's scale against the source (after an automatic choice)

    def constant_channels(self) -> dict[int, float]:
        """Channels that hold one value in every training stack (a map the source lacked) -> value."""
        out = {}
        for c in range(self.stacks[0].shape[0]):
            lo = min(float(s[c].min()) for s in self.stacks)
            hi = max(float(s[c].max()) for s in self.stacks)
            if hi - lo < 1e-6:
                out[c] = lo
        return out

    def metric_crops(self, crop: int, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(held-out crops, reference crops from the training region), fixed by `seed`."""
        heldout = CropSampler(self.heldout, crop, seed=[seed, 1], wrap=self.heldout_wrap).sample(count)
        reference = CropSampler(self.stacks, crop, seed=[seed, 2], wrap=self.wrap).sample(count)
        return heldout, reference


def preset_data(preset: str, count: int, size: int, seed: int) -> TrainingData:
    if preset not in PRESETS:
        raise DataError(f"Unknown preset '{preset}': choose from {', '.join(PRESETS)}.")
    train = preset_stacks(preset, count, size, seed)
    heldout = preset_stacks(preset, max(4, count // 4), size, seed + 7919)
    return TrainingData(train, [True] * len(train), heldout, [True] * len(heldout),
                        f"procedural preset '{preset}'", NORMAL_STRENGTH, ["procedural (this repository)"],
                        exemplar=train[0])


HEIGHT_FLATTEN = 8  # exemplar heights lose their trends wider than 1/8 of the smaller side


def flatten_height(stack: np.ndarray) -> np.ndarray:
    """(C, H, W) stack whose height channel lost its slow trends (a Gaussian of sigma = smaller side /
    HEIGHT_FLATTEN subtracted, mirrored at the borders); detail keeps its amplitude.

    A height integrated from a normal map drifts over the whole image, and even measured heights
    tilt; patches copied from different places then sit at different levels, and the derived normal
    map shows every patch border as a step. Stones, planks and grout are far smaller than the trend."""
    height = stack[3].astype(np.float64)
    if float(height.max() - height.min()) < 1e-6:
        return stack
    sigma = min(height.shape) / HEIGHT_FLATTEN
    mirrored = np.pad(height, [(0, n) for n in height.shape], mode="symmetric")
    fy = np.fft.fftfreq(mirrored.shape[0])[:, None]
    fx = np.fft.rfftfreq(mirrored.shape[1])[None, :]
    gauss = np.exp(-2 * (np.pi * sigma) ** 2 * (fy ** 2 + fx ** 2))
    trend = np.fft.irfft2(np.fft.rfft2(mirrored) * gauss, s=mirrored.shape)[:height.shape[0], :height.shape[1]]
    flat = height - trend + trend.mean()  # detail keeps its amplitude (what the measures compare)
    span = flat.max() - flat.min()
    if span > 1.0:  # only if the flattened range no longer fits: shrink about the middle
        flat = (flat - flat.mean()) / span + 0.5
    flat = np.clip(flat - min(0.0, flat.min()) - max(0.0, flat.max() - 1.0), 0.0, 1.0)
    out = stack.copy()
    out[3] = flat.astype(stack.dtype)
    return out


def exemplar_scale(shape: tuple[int, ...]) -> int:
    """The power of 2 that shrinks a source of this (..., H, W) shape to MAX_EXEMPLAR_SIDE or less."""
    factor = 1
    while max(shape[-2:]) > factor * MAX_EXEMPLAR_SIDE:
        factor *= 2
    return factor


def working_scale(stacks: list[np.ndarray], downsample: int, crop: int) -> tuple[int, int]:
    """(exemplar scale E, net scale N) against the source. downsample 0 (auto): N = E * GUIDE_SCALE,
    so that a 128-pixel training crop spans 512 exemplar pixels (whole stones and planks) and the
    net, which only lays out the texture, runs on a sixteenth of the pixels. A given downsample
    is the net's scale; the exemplar is then kept at least as fine. Auto never shrinks the training
    region below 1.5 crops (small photos train at full size)."""
    e = max(exemplar_scale(s.shape) for s in stacks)
    n = downsample or e * GUIDE_SCALE
    smallest = min(min(s.shape[-2:]) for s in stacks) * (1 - HELDOUT_FRACTION)
    while not downsample and n > 1 and smallest / n < 1.5 * crop:
        n //= 2
    while e > 1 and n % e:
        e //= 2
    return min(e, n), n


def shrink(stack: np.ndarray, factor: int) -> np.ndarray:
    """(C, H, W) -> (C, H // factor, W // factor) by averaging factor x factor blocks."""
    if factor == 1:
        return stack
    c, h, w = stack.shape
    h, w = h // factor * factor, w // factor * factor
    return stack[:, :h, :w].reshape(c, h // factor, factor, w // factor, factor).mean(axis=(2, 4))


def folder_data(folder: Path, crop: int, downsample: int = 1) -> TrainingData:
    """Every texture set in a folder (shrunk by `downsample`); the bottom quarter of each is held
    out for metrics."""
    loaded = load_folder(folder)
    e, downsample = working_scale(loaded.stacks, downsample, crop)
    exemplar = flatten_height(holdout_split(shrink(loaded.stacks[0], e), HELDOUT_FRACTION)[0])
    train, wrap, heldout = [], [], []
    for stack in (shrink(s, downsample) for s in loaded.stacks):
        region, held = holdout_split(stack, HELDOUT_FRACTION)
        if min(region.shape[1:]) >= crop and min(held.shape[1:]) >= crop:
            train.append(region)
            heldout.append(held)
        else:  # too small to split: train on all of it, measure on it too
            train.append(stack)
            heldout.append(stack)
        wrap.append(False)  # a split exemplar is no longer periodic
    # Relief is in pixels per unit height: a texture shrunk k times has k times gentler slopes.
    strength = (loaded.median_normal_strength or NORMAL_STRENGTH) / downsample
    where = f"folder {folder}" + (f" shrunk {downsample}x" if downsample > 1 else "")
    return TrainingData(train, wrap, heldout, [False] * len(heldout), where, strength, list(loaded.names),
                        exemplar=exemplar, exemplar_normal_strength=strength * downsample / e,
                        guide_scale=downsample // e, downsample=downsample)


def load_training_data(preset: str | None, data: str | None, crop: int, count: int, size: int,
                       seed: int, downsample: int = 1) -> TrainingData:
    if data:
        return folder_data(Path(data), crop, downsample)
    return preset_data(preset or "bricks", count, size, seed)
