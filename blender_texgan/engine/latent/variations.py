"""Variations of a texture: a texture VAE encodes its layout, the texture itself gives the detail.

    variants = texture_variations(pixels, VariationsRequest(count=4, strength=0.5))

1. The texture becomes an exemplar stack as Save as Model makes one (engine.photo.save_as_model: lighting
   evened out, relief from the translator or from luminance).
2. The VAE encodes it, at the scale the VAE's decoder lays textures out at, to a spatial latent.
3. Each variant's latent moves from the texture's own code towards a fresh N(0, 1) draw:
   z = cos(a) m + sin(a) e with a = strength x 90 degrees (the arc slerp walks), so strength 0
   keeps the texture's layout and 1 draws a new one from the prior.
4. The decoded latent, its colours matched to the texture's, is the guide of coordinate synthesis against the texture itself
   (engine.generate.exemplar_synthesis): every pixel of a variant is a pixel of the texture, so it
   keeps its character whatever the VAE was trained on, and it tiles exactly.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from ...core.maps import MapSet
from ...core.photo.upscale import box_shrink
from ...core.synthesis.exemplar_analysis import analyse
from ...core.synthesis.lattice import axis_periods
from ..generate import check_resolution, exemplar_synthesis, load_runner, pick_engine
from ..library import default_vae_name, resolve_model
from ..photo.pipeline import load_translator
from ..photo.save_as_model import photo_exemplar
from ..progress import Progress, cancel_point, stage_progress
from ..request import MAX_SEED, GenerationError

MAX_VARIANTS = 16
# How hard the decoded code pulls synthesis (core.synthesis.refine's guide weight; the generator uses 1).
# Round trips of 256 px crops (benchmarks/vae.py, stone_wall_vae): weight 1 kept the layout at 0.89
# (correlation of coarse luminance; no guide: 0.25) with an SWD ratio of 1.80; 0.125 kept 0.82 at
# 1.30, as close as unguided synthesis (1.28). On gravel, never seen: 0.63 / 3.41 against 0.49 / 1.62.
GUIDE_WEIGHT = 0.125


@dataclass(frozen=True)
class VariationsRequest:
    """model: a VAE model's name or path (empty: the bundled VAE); count: how many variants;
    strength: 0 keeps the texture's layout, 1 draws fresh layouts; size: each variant's side;
    maps: relief from the translator or luminance (else flat)."""
    model: str = ""
    count: int = 4
    strength: float = 0.5
    size: int = 512
    seed: int = 0
    maps: bool = True
    translator: str = ""
    engine: str = "auto"
    device: str = "auto"
    name: str = "texture"


def check_request(request: VariationsRequest) -> None:
    if not 1 <= request.count <= MAX_VARIANTS:
        raise GenerationError(f"Variations must number 1 to {MAX_VARIANTS}, not {request.count}.")
    if not 0.0 <= request.strength <= 1.0:
        raise GenerationError(f"Variation strength must be between 0 and 1, not {request.strength:g}.")
    if not 0 <= request.seed <= MAX_SEED - MAX_VARIANTS:
        raise GenerationError(f"Seed must be between 0 and {MAX_SEED - MAX_VARIANTS}, not {request.seed}.")


def encode_texture(runner, exemplar: np.ndarray) -> np.ndarray:
    """An (h, w, 5) exemplar-scale stack -> the VAE's posterior mean (C, h', w') at the scale its
    decoder lays textures out at (guide_scale coarser than the exemplar)."""
    scale, guide_scale = runner.cfg.scale, int(runner.exemplar_block.get("guide_scale", 1))
    small = box_shrink(exemplar, guide_scale)
    h, w = small.shape[0] // scale * scale, small.shape[1] // scale * scale
    if min(h, w) < scale:
        raise GenerationError(f"The texture is too small to encode: it needs at least {scale * guide_scale} px a side.")
    mean, _ = runner.encode(np.ascontiguousarray(np.moveaxis(small[:h, :w], -1, 0)))
    return mean


def latent_window(mean: np.ndarray, cells: int, rng: np.random.Generator) -> np.ndarray:
    """A cells x cells window of a (C, h, w) latent at a random place, wrapping around (a latent
    smaller than the window repeats)."""
    _, h, w = mean.shape
    rows = (rng.integers(h) + np.arange(cells)) % h
    cols = (rng.integers(w) + np.arange(cells)) % w
    return mean[:, rows][:, :, cols]


def mix_latent(mean: np.ndarray, noise: np.ndarray, strength: float) -> np.ndarray:
    """The point `strength` of the way along the arc from the texture's code to a prior draw."""
    angle = 0.5 * np.pi * float(strength)
    return (np.cos(angle) * mean + np.sin(angle) * noise).astype(np.float32)


def match_statistics(guide: np.ndarray, exemplar: np.ndarray) -> np.ndarray:
    """The guide with each channel's mean and spread set to the exemplar's. A VAE trained on other
    textures decodes a foreign texture's code in its own colours; unmatched, the guide would pull
    synthesis towards the parts of the texture that happen to look like the VAE's training data."""
    g_mean, g_std = guide.mean(axis=(0, 1)), guide.std(axis=(0, 1))
    e_mean, e_std = exemplar.mean(axis=(0, 1)), exemplar.std(axis=(0, 1))
    return ((guide - g_mean) * (e_std / np.maximum(g_std, 1e-4)) + e_mean).astype(np.float32)


@dataclass
class EncodedTexture:
    """A texture read by a VAE: its exemplar stack (and analysis, for synthesis), the relief
    strength of its normals and its code. Variations come from here without encoding again."""
    runner: object
    exemplar: np.ndarray     # (h, w, 5) at the exemplar's scale
    relief: float            # normal strength
    mean: np.ndarray         # (C, h', w') posterior mean at the decoder's scale
    analysis: object         # core.synthesis.exemplar_analysis.analyse(exemplar)
    lattice: tuple[int, int] = (0, 0)  # the texture's tile repeats (core.synthesis.lattice), (0, 0) when none

    def reconstruction(self) -> np.ndarray:
        """The VAE's own decoding of the code: (h', w') * scale, 5 channels; the layout, not the detail."""
        return np.moveaxis(self.runner.forward(self.mean), 0, -1)

    def variant(self, size: int, seed: int, strength: float, should_stop=None) -> MapSet:
        """One tileable variation of size x size (see the module's steps 3 and 4)."""
        runner = self.runner
        cells = max(2, -(-size // int(runner.exemplar_block.get("guide_scale", 1)) // runner.cfg.scale))
        rng = np.random.default_rng([seed, 0x7A3E])
        noise = rng.standard_normal((self.mean.shape[0], cells, cells), dtype=np.float32)
        z = mix_latent(latent_window(self.mean, cells, rng), noise, strength)
        guide = match_statistics(np.moveaxis(runner.forward(z), 0, -1), self.exemplar)
        block = {"normal_strength": self.relief, "lattice": list(self.lattice)}  # tiles stay on their lattice
        maps, _ = exemplar_synthesis(self.exemplar, self.analysis, block, size, seed, guide, False,
                                     runner.device, should_stop, guide_weight=GUIDE_WEIGHT)
        return maps


def encode(photo, request: VariationsRequest, progress: Callable[[float], None] | None = None,
           should_stop: Callable[[], bool] | None = None) -> EncodedTexture:
    """(H, W, 1-4) image in [0, 1] -> EncodedTexture, with the request's VAE, translator and engine."""
    check_request(request)
    needed = "variations of a texture need a VAE model"  # its encoder reads the texture's layout
    runner = load_runner(resolve_model(request.model or default_vae_name(), ("vae",), needed),
                         pick_engine(request.engine, request.device), request.device, ("vae",), needed)
    check_resolution(request.size, runner.cfg.scale)
    translator = load_translator(request.translator, request.engine, request.device) if request.maps else None
    exemplar, relief = photo_exemplar(photo, translator, stage_progress(progress, should_stop, 0.0, 0.2),
                                      should_stop, classical=request.maps and translator is None)
    cancel_point(should_stop)
    return EncodedTexture(runner, exemplar, relief, encode_texture(runner, exemplar), analyse(exemplar, periodic=False),
                          axis_periods(exemplar))


def texture_variations(photo, request: VariationsRequest, progress: Callable[[float], None] | None = None,
                       should_stop: Callable[[], bool] | None = None) -> list[MapSet]:
    """(H, W, 1-4) image in [0, 1] -> request.count tileable MapSets of request.size."""
    texture = encode(photo, request, progress, should_stop)
    variants = []
    for i in range(request.count):
        variants.append(texture.variant(request.size, request.seed + i, request.strength, should_stop))
        if progress is not None:
            progress(0.2 + 0.8 * (i + 1) / request.count)
        cancel_point(should_stop)
    return variants


# ---------------------------------------------------------------- the add-on's Variations of This job

def variations_manifest(request: VariationsRequest) -> dict:
    """What build_material reads to name and describe a variant's material."""
    return {"name": f"{request.name} variation",
            "description": f"A variation of the image '{request.name}' (strength {request.strength:g}).",
            "source": "variation"}


def variations_runner(photo: np.ndarray):
    """A job function: the picked image's pixels -> (list of MapSets, manifest)."""
    def run(request: VariationsRequest, progress: Progress | None = None,
            should_stop: Callable[[], bool] | None = None):
        return texture_variations(photo, request, progress, should_stop), variations_manifest(request)
    return run


def preview_pixels(albedo: np.ndarray, size: int) -> np.ndarray:
    """An (H, W, 3) sRGB albedo -> a size x size preview icon's flat RGBA buffer (linear values,
    rows bottom to top, as bpy.utils.previews takes them)."""
    h, w = albedo.shape[:2]
    rows = (np.arange(size) * h) // size
    cols = (np.arange(size) * w) // size
    rgba = np.ones((size, size, 4), np.float32)
    rgba[..., :3] = np.clip(albedo[rows][:, cols, :3], 0.0, 1.0) ** 2.2
    return rgba[::-1].ravel()
