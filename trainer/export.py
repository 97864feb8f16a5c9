"""Run folder -> model file for the add-on (EMA generator weights + manifest)."""
from __future__ import annotations

from pathlib import Path

from blender_texgan.core.architecture import PERIODIC_SGAN_V1, PeriodicGeneratorConfig
from blender_texgan.core.maps import PBR_MAPS
from blender_texgan.core.modelfile import write_model_file

from .procedural import NORMAL_STRENGTH
from .train import latest_checkpoint, load_checkpoint, machine_summary


class ExportError(RuntimeError):
    pass


def build_manifest(name: str, cfg: PeriodicGeneratorConfig, options: dict, step: int, seconds: float,
                   description: str = "", license: str = "CC0-1.0") -> dict:
    source = f"folder {options['data']}" if options.get("data") else f"procedural preset '{options['preset']}'"
    return {
        "name": name,
        "kind": "generator",
        "architecture": {"name": PERIODIC_SGAN_V1, "config": cfg.to_dict()},
        "maps": [{"name": m.name, "channels": m.channels, "colorspace": m.colorspace,
                  **({"derived_from": "height"} if m.name == "normal" else {})} for m in PBR_MAPS],
        "latent": {"channels": cfg.latent_channels, "scale": cfg.scale, "distribution": "standard_normal"},
        "normal_strength": NORMAL_STRENGTH,
        "normal_convention": "OpenGL",
        "native_tile_size": options["crop"],
        "real_world_size_m": 1.0,
        "description": description or f"Tileable PBR generator trained on {source}.",
        "license": license,
        "training": {"data": source, "steps": step, "seconds": round(seconds, 1),
                     "command": options.get("command", ""), "machine": machine_summary(),
                     "batch": options["batch"], "crop": options["crop"]},
        "metrics": {},
    }


def export_run(run: Path, out: Path, name: str | None = None, description: str = "") -> Path:
    ckpt = latest_checkpoint(run)
    if ckpt is None:
        raise ExportError(f"No checkpoint in '{run}': train first (python -m trainer train --out {run}).")
    state = load_checkpoint(ckpt)
    cfg = PeriodicGeneratorConfig.from_dict(state["config"])
    tensors = {k: v.detach().float().cpu().numpy() for k, v in state["ema"].items()}
    manifest = build_manifest(name or Path(out).stem, cfg, state["options"], state["step"],
                              state["seconds"], description)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    return write_model_file(out, tensors, manifest)
