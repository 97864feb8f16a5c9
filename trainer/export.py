"""Run folder -> model file for the add-on (EMA generator weights + manifest with metrics)."""
from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

from blender_texgan.core.arch.generator import PERIODIC_SGAN_V1, PeriodicGeneratorConfig, config_from_manifest
from blender_texgan.core.arch.vae import PERIODIC_VAE_V1, VAEConfig, decoder_config
from blender_texgan.core.latent import LatentLayout
from blender_texgan.core.maps import PBR_MAPS
from blender_texgan.core.modelfile import read_model_file, write_model_file
from blender_texgan.core.synthesis import quilt

from .checkpoints import latest_checkpoint, load_newest_good, run_kind
from .data import load_training_data
from .quality import QUALITY_COUNT, QUALITY_SEEDS, choose_mode, compare_modes_over


class ExportError(RuntimeError):
    pass


# The trainers that export their model files themselves, into the run folder, when training ends.
SELF_EXPORTING = {"translator": ("model.safetensors",), "cyclegan": ("a_to_b.safetensors", "b_to_a.safetensors")}


def self_exported(run: Path, kind: str) -> str:
    """What `export` says of a run whose trainer exports its own model files: where they are, or how
    to have them written."""
    files = [run / name for name in SELF_EXPORTING[kind]]
    shown = " and ".join(f"'{f}'" for f in files)
    if all(f.exists() for f in files):
        return (f"'{run}' is a {kind} run: it exports its model itself when its training ends, and did: {shown} "
                f"(copy {'them' if len(files) > 1 else 'it'}; rerun its training command to train further)")
    ckpt = latest_checkpoint(run)
    now = f", or with --steps {int(ckpt.stem.split('-')[-1])} to export it as it is now" if ckpt else ""
    return (f"'{run}' is a {kind} run: it exports its model itself ({shown}) when its training ends; "
            f"rerun its training command to finish it{now}")


def check_export_target(out: Path, force: bool) -> None:
    """Refuse a target that is not a .safetensors file path, one that exists without --force, or
    one that cannot be written (before any work)."""
    if out.suffix != ".safetensors":
        raise ExportError("--out must end in .safetensors")
    if out.is_dir():
        raise ExportError(f"--out '{out}' is a folder: give a file path ending in .safetensors")
    if out.exists() and not force:
        raise ExportError(f"'{out}' already exists: choose another name or add --force to overwrite it")
    check_output_file(out, "--out")


def check_output_file(path: Path, flag: str) -> None:
    """A file this command will write must be writable: its folder is made if missing, and a file is
    created and removed there (permissions, read-only disks, /proc and a file in the way all answer,
    for root too) -- found before the work, not after it."""
    path = Path(path)
    blocking = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise ExportError(f"{flag} '{path}': cannot write there: '{blocking}' is a file, not a folder")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".texgan-probe-", dir=path.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise ExportError(f"{flag} '{path}': cannot write there: {exc.strerror or exc}") from None


def build_manifest(name: str, cfg: PeriodicGeneratorConfig, layout: LatentLayout, *, options: dict,
                   step: int, seconds: float, normal_strength: float, data_description: str,
                   credits: list[str] | None = None, metrics: dict | None = None,
                   description: str = "", license: str = "CC0-1.0") -> dict:
    return {
        "name": name,
        "kind": "generator",
        "architecture": {"name": cfg.name, "config": cfg.to_dict()},
        "maps": [{"name": m.name, "channels": m.channels, "colorspace": m.colorspace,
                  **({"derived_from": "height"} if m.name == "normal" else {})} for m in PBR_MAPS],
        "latent": layout.to_dict(),
        "normal_strength": float(normal_strength),
        "normal_convention": "OpenGL",
        "native_tile_size": options["crop"],
        "real_world_size_m": 1.0,
        "description": description or f"Tileable PBR generator trained on {data_description}.",
        "license": license,
        "credits": credits or [],
        "training": {"data": data_description, "steps": step, "seconds": round(seconds, 1),
                     "command": options.get("command", ""), "machine": machine_summary(),
                     "planned_steps": options.get("steps", step),
                     "batch": options["batch"], "crop": options["crop"],
                     "downsample": options.get("downsample", 1),
                     **({"max_minutes": options["max_minutes"]} if options.get("max_minutes") else {})},
        "metrics": metrics or {},
    }


def export_run(run: Path, out: Path, name: str | None = None, description: str = "",
               with_metrics: bool = True, credits: list[str] | None = None) -> Path:
    """Write the run's EMA generator to `out`; `credits` (e.g. "Bricks102 by ambientCG, https://...")
    replace the data's own bare set names, which a good credit line names itself."""
    kind = run_kind(run)
    if kind in SELF_EXPORTING:
        raise ExportError(self_exported(run, kind))
    found = load_newest_good(run)
    if found is None:
        raise ExportError(f"No checkpoint in '{run}': train first (python -m trainer train --out {run}).")
    _, state = found
    cfg = config_from_manifest({"name": state.get("architecture", PERIODIC_SGAN_V1), "config": state["config"]})
    layout = LatentLayout.from_dict(state["latent"])
    options = state["options"]
    data = load_training_data(options["preset"], options["data"], options["crop"], options["pool_count"],
                              options["pool_size"], options["seed"], options.get("downsample", 1))
    is_vae = state.get("kind") == "vae"
    if is_vae:
        from .vae import vae_tensors
        tensors = vae_tensors(state)
    else:
        tensors = {k: v.detach().float().cpu().numpy() for k, v in state["ema"].items()}
    exemplar = None if data.exemplar is None else np.moveaxis(data.exemplar, 0, -1)
    metrics = {}
    if with_metrics:
        print("measuring the exported generator against held-out crops...", file=sys.stderr)
        metrics = measure_state(cfg, layout, state, data, options)
    manifest = build_manifest(name or Path(out).stem, cfg, layout, options=dict(options, downsample=data.downsample),
                              step=state["step"], seconds=state["seconds"], normal_strength=state["normal_strength"],
                              data_description=state["data_description"],
                              credits=list(credits or state.get("credits") or []),
                              metrics=metrics, description=description)
    manifest["training"]["sets"] = list(data.credits)
    if not description:
        manifest["description"] = f"Tileable PBR material made from {', '.join(data.credits)}."
    if is_vae:
        manifest["kind"] = "vae"
        manifest["architecture"] = {"name": PERIODIC_VAE_V1, "config": VAEConfig(cfg).to_dict()}
        manifest["training"]["kl_weight"] = options.get("kl_weight")
        if not description:
            manifest["description"] = (f"Tileable PBR texture VAE made from {', '.join(data.credits)}: encodes a "
                                       "texture, makes variations of it and morphs between two.")
    if exemplar is not None:  # element size and repeats measured once here: generation reads them (core.synthesis.quilt)
        manifest["exemplar"] = {"guide_scale": data.guide_scale, "normal_strength": data.exemplar_normal_strength,
                                "periodic": bool(data.wrap[0]), **quilt.measure(exemplar)}
    Path(out).parent.mkdir(parents=True, exist_ok=True)  # the exemplar packed: about 0.6 of its raw size
    write_model_file(out, tensors, manifest, exemplar=exemplar, pack=True)
    if with_metrics and exemplar is not None:
        print("measuring every generation mode beside tiling and blending...", file=sys.stderr)
        manifest = with_quality(out, manifest, options, data)
        write_model_file(out, tensors, manifest, exemplar=exemplar, pack=True)
    if with_metrics and is_vae:  # encode -> decode, beside the generation metrics
        from .vae import measure_reconstruction
        manifest["metrics"].update(measure_reconstruction(state, data, options["crop"], 64, seed=12345))
        write_model_file(out, tensors, manifest, exemplar=exemplar, pack=True)
    return Path(out)


def with_quality(path: Path, manifest: dict, options: dict, net_data) -> dict:
    """Measure the written model in every mode beside tiling and blending, at the exemplar's scale;
    the better refinement mode becomes the model's default, and its metrics the card's."""
    guide = manifest["exemplar"]["guide_scale"]
    data = load_training_data(options["preset"], options["data"], options["crop"], options["pool_count"],
                              options["pool_size"], options["seed"], max(1, net_data.downsample // guide))
    scale = decoder_config(manifest).scale
    results = compare_modes_over(path, data, scale, QUALITY_COUNT, QUALITY_SEEDS)
    mode = choose_mode(results)
    chosen = results["baseline"] if mode == "blend" else results[mode]
    manifest = dict(manifest, metrics={**chosen, "neural": manifest["metrics"]})
    manifest["exemplar"] = dict(manifest["exemplar"], default_mode=mode)
    manifest["quality"] = results
    return manifest


def measure_state(cfg, layout, state: dict, data, options: dict) -> dict:
    """The neural generator's metrics against held-out crops (as logged during training)."""
    import torch

    from blender_texgan.engine.nets.generator import build_generator

    from .sampling import measure
    ema = build_generator(cfg).eval()
    ema.load_state_dict(state["ema"])
    metrics = measure(ema, layout, data, options["crop"], 64, seed=12345, device=torch.device("cpu"))
    metrics["step"] = state["step"]
    return metrics


def set_review(path: Path, text: str, mode: str | None = None) -> Path:
    """Put what a person saw on the model's contact sheet on its card (weights unchanged). `mode`
    overrides the default detail mode the gate chose, when eyes and numbers disagree; the card's
    metrics become that mode's, as measured at export."""
    model = read_model_file(path)
    manifest = dict(model.manifest, review=text.strip())
    manifest.pop("format_version", None)
    if mode is not None:
        quality = manifest.get("quality") or {}
        measured = quality.get("baseline" if mode == "blend" else mode)
        if model.exemplar is None or measured is None:
            raise ExportError(f"'{path}' has no measured {mode} mode to choose")
        manifest["exemplar"] = dict(manifest["exemplar"], default_mode=mode, default_by="review")
        manifest["metrics"] = {**measured, "neural": manifest["metrics"].get("neural", {})}
    return write_model_file(path, model.tensors, manifest, exemplar=model.exemplar)


def machine_summary() -> str:
    """Where a model was trained, for its card."""
    import torch

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU threads, {gpu}, "
            f"torch {torch.__version__}")
