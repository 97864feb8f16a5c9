"""A run folder's checkpoints and logs: atomic saves, rotation, the newest *readable* checkpoint,
the clean-up a resume needs (stale partial files, log records past the checkpoint's step), and
which trainer a run folder belongs to (so that no trainer touches another's run)."""
from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import torch

STATE_KEYS = ("G", "D", "ema", "opt_g", "opt_d", "step", "config", "options")  # the generator's and VAE's
TRANSLATOR_KEYS = ("G", "D", "opt_g", "opt_d", "step", "seconds")
CYCLEGAN_KEYS = ("G_ab", "G_ba", "D_a", "D_b", "opt_g", "opt_d", "step", "seconds", "sample_a", "sample_b")
RUN_KINDS = ("generator", "vae", "translator", "cyclegan")
UNREADABLE_SUFFIX = ".unreadable"
LOG_FILES = ("log.jsonl", "metrics.jsonl")


class CheckpointError(ValueError):
    """No usable checkpoint; str() is one line for the user."""


def checkpoint_dir(run: Path) -> Path:
    return Path(run) / "checkpoints"


def list_checkpoints(run: Path) -> list[Path]:
    """The run's checkpoints, oldest first (names sort by step)."""
    return sorted(checkpoint_dir(run).glob("ckpt-*.pt"))


def latest_checkpoint(run: Path) -> Path | None:
    found = list_checkpoints(run)
    return found[-1] if found else None


def save_checkpoint(run: Path, state: dict, step: int, keep: int) -> Path:
    """Write `state` as ckpt-<step>.pt atomically, then keep only the newest `keep` (at least 1)."""
    if keep < 1:
        raise ValueError("keep must be at least 1 (the checkpoint just written)")
    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-{step:08d}.pt"
    tmp = path.with_name(path.name + ".part")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a killed run never leaves a half-written checkpoint
    for old in list_checkpoints(run)[:-keep]:
        if old != path:
            old.unlink()
    return path


def load_checkpoint(path: Path, keys: tuple[str, ...] = STATE_KEYS) -> dict:
    """Tensors and plain values only (weights_only): a checkpoint never runs code. `keys`: what a
    checkpoint of the trainer asking must hold."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or any(k not in state for k in keys):
        raise CheckpointError(f"'{path.name}' is not a checkpoint of this trainer")
    return state


def _why_unreadable(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def load_newest_good(run: Path, quarantine: bool = False,
                     keys: tuple[str, ...] = STATE_KEYS) -> tuple[Path, dict] | None:
    """The newest checkpoint that loads, as (path, state); None when the run has none at all.

    Unreadable ones (truncated, garbage, another program's file) are skipped with a one-line note;
    with `quarantine` they are renamed to *.unreadable, so that rotation never deletes a good
    checkpoint to keep a bad one. Raises CheckpointError when checkpoints exist but none loads."""
    found = list_checkpoints(run)
    for path in reversed(found):
        try:
            return path, load_checkpoint(path, keys)
        except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError, KeyError) as exc:
            note = f"checkpoint '{path.name}' is unreadable ({_why_unreadable(exc)}); skipping it"
            if quarantine:
                path.rename(path.with_name(path.name + UNREADABLE_SUFFIX))
                note += f" (renamed to {path.name}{UNREADABLE_SUFFIX})"
            print(f"warning: {note}", file=sys.stderr)
    if found:
        raise CheckpointError(f"no readable checkpoint in '{checkpoint_dir(run)}' "
                              f"({len(found)} found, none loads): use a new run folder")
    return None


def remove_partial_files(run: Path) -> None:
    """Delete *.part files a killed save left behind (a finished save renames its own)."""
    for part in checkpoint_dir(run).glob("*.part"):
        part.unlink(missing_ok=True)


def truncate_logs(run: Path, step: int) -> None:
    """Drop log records of steps after `step` (replayed after a resume, so they would appear twice).
    Records without a step (e.g. a resume note) are kept. Rewritten atomically."""
    for name in LOG_FILES:
        path = Path(run) / name
        if not path.exists():
            continue
        lines = path.read_text().splitlines(keepends=True)
        kept = [line for line in lines if _record_step(line) <= step]
        if len(kept) != len(lines):
            tmp = path.with_name(path.name + ".part")
            tmp.write_text("".join(kept))
            os.replace(tmp, path)


def _record_step(line: str) -> float:
    """A log line's step; a torn last line (killed mid-write) counts as after every step."""
    try:
        record = json.loads(line)
    except ValueError:
        return float("inf")
    return record.get("step", 0) if isinstance(record, dict) else float("inf")


# ---------------------------------------------------------------- which trainer a run belongs to

def state_kind(state) -> str | None:
    """The trainer a loaded checkpoint comes from, by what it holds (None: not one of ours)."""
    if not isinstance(state, dict):
        return None
    if state.get("kind") in RUN_KINDS:
        return state["kind"]
    if all(k in state for k in CYCLEGAN_KEYS):
        return "cyclegan"
    if all(k in state for k in STATE_KEYS):
        options = state["options"] if isinstance(state["options"], dict) else {}
        return options.get("kind", "generator")
    return "translator" if all(k in state for k in TRANSLATOR_KEYS) else None


def run_kind(run: Path) -> str | None:
    """The kind of run a folder holds: its options.json's kind, else its newest checkpoint's
    (read, never changed); None for a new, empty or foreign folder."""
    try:
        options = json.loads((Path(run) / "options.json").read_text())
    except (OSError, ValueError):
        options = None
    if isinstance(options, dict) and options.get("kind") in RUN_KINDS:
        return options["kind"]
    for path in reversed(list_checkpoints(run)):
        try:
            kind = state_kind(torch.load(path, map_location="cpu", weights_only=True))
        except (OSError, EOFError, RuntimeError, ValueError, pickle.UnpicklingError, KeyError):
            continue
        if kind:
            return kind
    return None


def check_run_kind(run: Path, kind: str) -> None:
    """Refuse, before anything in it is touched, a run folder another trainer made."""
    found = run_kind(run)
    if found is not None and found != kind:
        how = "without --kind" if found == "generator" else f"with --kind {found}"
        raise ValueError(f"'{run}' is a {found} run; resume it {how}, or choose a new --out")
