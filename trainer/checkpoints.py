"""A run folder's checkpoints and logs: atomic saves, rotation, the newest *readable* checkpoint,
and the clean-up a resume needs (stale partial files, log records past the checkpoint's step)."""
from __future__ import annotations

import json
import os
import pickle
import sys
from pathlib import Path

import torch

STATE_KEYS = ("G", "D", "ema", "opt_g", "opt_d", "step", "config", "options")
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


def load_checkpoint(path: Path) -> dict:
    """Tensors and plain values only (weights_only): a checkpoint never runs code."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or any(k not in state for k in STATE_KEYS):
        raise CheckpointError(f"'{path.name}' is not a checkpoint of this trainer")
    return state


def _why_unreadable(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:160] if text else type(exc).__name__


def load_newest_good(run: Path, quarantine: bool = False) -> tuple[Path, dict] | None:
    """The newest checkpoint that loads, as (path, state); None when the run has none at all.

    Unreadable ones (truncated, garbage, another program's file) are skipped with a one-line note;
    with `quarantine` they are renamed to *.unreadable, so that rotation never deletes a good
    checkpoint to keep a bad one. Raises CheckpointError when checkpoints exist but none loads."""
    found = list_checkpoints(run)
    for path in reversed(found):
        try:
            return path, load_checkpoint(path)
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
