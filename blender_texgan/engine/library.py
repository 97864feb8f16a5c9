"""The model library: bundled models plus user folders; importing a file validates it first;
each model's card (what it makes, how good, licence, how it was trained) as lines of text."""
from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ..core.modelfile import MAKES_MATERIALS, ModelFileError, read_manifest, read_model_file
from .request import GenerationError

MODELS_DIR = Path(__file__).resolve().parent.parent / "models"


@lru_cache(maxsize=1)
def _bundled() -> tuple[tuple[str, Path], ...]:
    return tuple((p.stem, p) for p in sorted(MODELS_DIR.glob("*.safetensors")))


def bundled_models() -> dict[str, Path]:
    """Bundled model name (file stem) -> path, sorted by name. Listed once: the add-on's models
    folder does not change while it runs, and panels ask for this on every redraw."""
    return dict(_bundled())


DEFAULT_MODEL = "stone_wall"  # the bundled model a fresh install generates with
TRANSLATORS_DIR = MODELS_DIR / "translators"  # photo -> maps models, kept apart from generators
DEFAULT_TRANSLATOR = "photo_to_pbr"


def bundled_translators(direction: str = "photo_to_maps") -> dict[str, Path]:
    """Bundled translators of one direction (photo_to_maps: photo -> maps; maps_to_maps: material
    translation): name (file stem) -> path, sorted by name. A file whose manifest cannot be read is
    listed under photo_to_maps, so that using it reports what is wrong with it."""
    return {p.stem: p for p in sorted(TRANSLATORS_DIR.glob("*.safetensors"))
            if _direction(str(p), p.stat().st_mtime_ns) == direction}


@lru_cache(maxsize=64)
def _direction(path: str, mtime_ns: int) -> str:
    try:
        return (read_manifest(path).get("translator") or {}).get("direction", "photo_to_maps")
    except ModelFileError:
        return "photo_to_maps"


def resolve_material_translator(model: str) -> Path:
    """A bundled material translator's name (maps_to_maps) or a translator file's path."""
    model = (model or "").strip()
    bundled = bundled_translators("maps_to_maps")
    if model in bundled:
        return bundled[model]
    path = Path(os.path.expanduser(model))
    if model and (path.suffix or os.sep in model or "/" in model):
        return path
    raise GenerationError(f"Unknown material translator '{model}': bundled ones are {', '.join(bundled) or 'none'}.")


def resolve_translator(model: str = "") -> Path:
    """A bundled translator's name (default: DEFAULT_TRANSLATOR) or a translator file's path."""
    model = (model or DEFAULT_TRANSLATOR).strip()
    bundled = bundled_translators()
    if model in bundled:
        return bundled[model]
    path = Path(os.path.expanduser(model))
    if path.suffix or os.sep in model or "/" in model:
        return path
    raise GenerationError(f"Unknown translator '{model}': bundled translators are {', '.join(bundled) or 'none'}.")


def default_model_name() -> str:
    names = list(bundled_models())
    return DEFAULT_MODEL if DEFAULT_MODEL in names else (names[0] if names else "")


def bundled_vaes() -> dict[str, Path]:
    """The bundled models that are VAEs (they encode textures: variations of a texture)."""
    return {name: path for name, path in bundled_models().items() if _kind(str(path), path.stat().st_mtime_ns) == "vae"}


@lru_cache(maxsize=64)
def _kind(path: str, mtime_ns: int) -> str:
    try:
        return read_manifest(path).get("kind", "")
    except ModelFileError:
        return ""


def default_vae_name() -> str:
    """The bundled VAE that variations use when none is chosen ("" when none is bundled)."""
    return next(iter(bundled_vaes()), "")


def resolve_model(model: str, roles: tuple[str, ...] = MAKES_MATERIALS, needed: str = "") -> Path:
    """A bundled model's name or a model file's path -> its path. With `roles` (the default: models
    that make materials) the file's manifest is read and a file of another kind is refused, saying
    what it is and what takes it, before any work (core.modelfile.check_role); roles=() only resolves."""
    model = (model or "").strip()
    if not model:
        raise GenerationError("No model chosen: pick a bundled model or a .safetensors model file.")
    bundled = bundled_models()
    if model in bundled:
        path = bundled[model]
    else:
        path = Path(os.path.expanduser(model))
        if not (path.exists() or path.suffix or os.sep in model or "/" in model):
            raise GenerationError(f"Unknown model '{model}': bundled models are {', '.join(bundled) or 'none'}.")
    if roles:
        read_manifest(path, roles, needed)
    return path


@dataclass(frozen=True)
class ModelEntry:
    name: str       # identifier shown to the user (file stem)
    path: Path
    source: str     # "bundled" or the folder it came from


def list_models(user_dirs: list[str | os.PathLike] = ()) -> list[ModelEntry]:
    """Bundled models first, then every .safetensors in the user folders (missing folders ignored)."""
    entries = [ModelEntry(name, path, "bundled") for name, path in bundled_models().items()]
    seen = {e.path.resolve() for e in entries}
    for folder in user_dirs:
        folder = Path(os.path.expanduser(str(folder))) if folder else None
        if folder is None or not folder.is_dir():
            continue
        for path in _folder_models(str(folder), folder.stat().st_mtime_ns):
            if path.resolve() not in seen:
                seen.add(path.resolve())
                entries.append(ModelEntry(path.stem, path, str(folder)))
    return entries


@lru_cache(maxsize=16)
def _folder_models(folder: str, mtime_ns: int) -> tuple[Path, ...]:
    """A folder's model files, cached until the folder changes (adding a file changes its mtime)."""
    return tuple(sorted(Path(folder).glob("*.safetensors")))


def forget_folder_listings() -> None:
    """Forget the cached folder listings: a model was just written, perhaps within the folder's
    timestamp granularity of the listing before it."""
    _folder_models.cache_clear()


def import_model(source: str | os.PathLike, dest_dir: str | os.PathLike) -> Path:
    """Validate a model file completely, then copy it into dest_dir (atomically). A malformed file
    raises ModelFileError (one sentence) and nothing is copied."""
    source = Path(source)
    read_model_file(source)  # full validation: header, manifest, every tensor
    dest_dir = Path(dest_dir)
    dest_dir.mkdir(parents=True, exist_ok=True)
    target = dest_dir / source.name
    if target.exists() and target.resolve() == source.resolve():
        return target
    tmp = target.with_name(target.name + ".part")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    forget_folder_listings()
    return target


@lru_cache(maxsize=64)
def _card(path: str, mtime_ns: int) -> tuple[str, ...]:
    try:
        m = read_manifest(path)
    except ModelFileError as exc:
        return (str(exc),)
    lines = [m.get("description") or m["name"]]
    lines.append("Maps: " + ", ".join(f"{x['name']} ({x['colorspace']})" for x in m["maps"]))
    metrics = m.get("metrics") or {}
    if metrics:
        lines.append("Quality: SWD ratio {:.2f}, seam ratio {:.2f}, diversity {:.2f}".format(
            _measured(metrics, "swd_ratio"), _measured(metrics, "seam_ratio"), _measured(metrics, "diversity_ratio")))
    baseline = (m.get("quality") or {}).get("baseline")
    baseline = baseline if isinstance(baseline, dict) else {}
    # each floored at real-vs-real, the noise floor (as trainer.quality judges them)
    floor = lambda m, k: max(_measured(m, k), _measured(m, f"{k}_real", 0.0))
    shared = [k for k in ("bandpass_albedo", "coarse_swd") if k in metrics and floor(baseline, k) > 0]
    if shared:
        lines.append("Structure vs tiling and blending: " + ", ".join(
            f"{k.replace('_', ' ')} {floor(metrics, k) / floor(baseline, k):.2f}x" for k in shared)
            + " (lower is better)")
    if m.get("review"):
        lines.append(f"Looked at: {m['review']}")
    training = m.get("training") or {}
    if training:
        minutes = training.get("seconds", 0) / 60
        steps, planned = training.get("steps", "?"), training.get("planned_steps")
        budget = training.get("max_minutes")
        early = isinstance(planned, int) and isinstance(steps, int) and planned > steps
        stopped = (f" ({budget:g}-minute budget)" if budget else f" (stopped early; {planned} planned)") if early else ""
        source = ", ".join(training.get("sets") or []) or training.get("data", "?")
        lines.append(f"Trained: {steps} steps{stopped}, {minutes:.0f} min on {source}")
    lines.append(f"Licence: {m.get('license', 'unknown')}")
    credits = m.get("credits") or []
    if credits:
        lines.append("Credits: " + ", ".join(credits))
    return tuple(lines)


def _measured(block: dict, key: str, missing: float = float("nan")) -> float:
    """A measurement from a validated manifest: a number, or `missing` (null or a list: unmeasured)."""
    value = block.get(key)
    return float(value) if isinstance(value, (int, float)) else missing


def model_card(path: str | os.PathLike) -> list[str]:
    """Lines describing a model for the panel (cached by path and modification time)."""
    path = Path(path)
    try:
        mtime = path.stat().st_mtime_ns
    except OSError:
        return [f"Model file '{path.name}' does not exist"]
    return list(_card(str(path), mtime))
