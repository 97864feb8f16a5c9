"""Generation: a typed request in, a MapSet out. Shared by the add-on and the terminal entry."""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from ..core.architecture import ARCHITECTURES
from ..core.latent import LatentLayout, seed_latent
from ..core.maps import complete_map_set, split_channels
from ..core.modelfile import ModelFile, ModelFileError, read_model_file

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
MIN_RESOLUTION, MAX_RESOLUTION = 32, 8192


class GenerationError(RuntimeError):
    """A request that cannot be served; str() is one sentence for the user."""


class EngineUnavailable(GenerationError):
    pass


@dataclass(frozen=True)
class GenerationRequest:
    model: str          # a bundled model's name, or a path to a .safetensors model file
    resolution: int = 1024
    seed: int = 0
    device: str = "auto"


# ---------------------------------------------------------------- models

def bundled_models() -> dict[str, Path]:
    """Bundled model name (file stem) -> path, sorted by name."""
    return {p.stem: p for p in sorted(MODELS_DIR.glob("*.safetensors"))}


def default_model_name() -> str:
    names = list(bundled_models())
    return "proc_bricks" if "proc_bricks" in names else (names[0] if names else "")


def resolve_model(model: str) -> Path:
    model = (model or "").strip()
    if not model:
        raise GenerationError("No model chosen: pick a bundled model or a .safetensors model file.")
    bundled = bundled_models()
    if model in bundled:
        return bundled[model]
    path = Path(os.path.expanduser(model))
    if path.exists() or path.suffix or os.sep in model or "/" in model:
        return path
    raise GenerationError(f"Unknown model '{model}': bundled models are {', '.join(bundled) or 'none'}.")


_cache_lock = threading.Lock()
_cache: dict[tuple, object] = {}


def load_generator(path: Path, device):
    """Model file -> torch generator in eval mode on `device` (cached by path, mtime and device)."""
    try:
        import torch
        from .nets import build_generator
    except ImportError:
        raise EngineUnavailable(
            "TexGAN needs PyTorch to generate: install it into Blender's Python "
            "(for example: <blender python> -m pip install torch).") from None
    stat = path.stat() if path.exists() else None
    key = (str(path.resolve()), stat.st_mtime_ns if stat else 0, stat.st_size if stat else 0, str(device))
    with _cache_lock:
        if key in _cache:
            return _cache[key]
    model = read_model_file(path)
    arch = model.manifest["architecture"]
    cfg = ARCHITECTURES[arch["name"]][0].from_dict(arch["config"])
    net = build_generator(cfg)
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in model.tensors.items()})
    net.eval().to(device)
    with _cache_lock:
        _cache.clear()  # one model resident at a time keeps memory predictable
        _cache[key] = (model, net)
    return model, net


# ---------------------------------------------------------------- generation

def check_resolution(resolution: int, scale: int) -> None:
    if not MIN_RESOLUTION <= resolution <= MAX_RESOLUTION:
        raise GenerationError(f"Resolution must be between {MIN_RESOLUTION} and {MAX_RESOLUTION} pixels.")
    if resolution % scale:
        raise GenerationError(f"Resolution must be a multiple of {scale} for this model "
                              f"(for example {resolution // scale * scale or scale}).")


def generate(request: GenerationRequest) -> tuple[dict, dict]:
    """Run a request: (MapSet, manifest). Raises ModelFileError or GenerationError, one line each."""
    from .devices import pick_device

    path = resolve_model(request.model)
    try:
        device = pick_device(request.device)
    except (ValueError, RuntimeError) as exc:
        raise GenerationError(str(exc)) from None
    model, net = load_generator(path, device)
    cfg = net.cfg
    check_resolution(request.resolution, cfg.scale)
    z = seed_latent(LatentLayout.from_dict(model.manifest["latent"]), request.seed, request.resolution)

    import torch
    with torch.inference_mode():
        raw = net(torch.from_numpy(z).to(device))[0].float().cpu().numpy()
    maps = complete_map_set(split_channels(raw), model.manifest["normal_strength"])
    return maps, model.manifest


__all__ = ["GenerationRequest", "GenerationError", "EngineUnavailable", "ModelFileError",
           "generate", "bundled_models", "resolve_model", "ModelFile"]
