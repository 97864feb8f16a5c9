"""Generation in an external Python (preferences point at an interpreter with torch + CUDA).

Each job starts a fresh worker process, so a crashed or killed worker costs one job, never
Blender: the next job simply starts another.
"""
from __future__ import annotations

import json
import queue
import shutil
import subprocess
import tempfile
import threading
from collections import deque
from dataclasses import asdict, replace
from pathlib import Path
from typing import Callable

import numpy as np

from .request import GenerationCancelled, GenerationError, GenerationRequest

PACKAGE_DIR = Path(__file__).resolve().parent.parent
BOOT = ("import sys, importlib; sys.path.insert(0, sys.argv[1]); "
        "sys.exit(importlib.import_module(sys.argv[2] + '.engine.worker').main(sys.argv[3:]))")

current_process: subprocess.Popen | None = None  # the running worker, for diagnostics and tests


def last_line(lines) -> str:
    """': <the last non-empty line>' of a worker's error output, or '' when it printed nothing."""
    text = [line.strip() for line in lines if line.strip()]
    return f": {text[-1][:300]}" if text else ""


def run_external(python: str, request: GenerationRequest, progress: Callable[[float], None] | None = None,
                 should_stop: Callable[[], bool] | None = None) -> tuple[dict, dict]:
    global current_process
    if not python or not Path(python).is_file():
        raise GenerationError(f"The external Python '{python}' does not exist: set it in the add-on preferences.")
    inner = replace(request, engine="auto", python="")
    workdir = Path(tempfile.mkdtemp(prefix="texgan-worker-"))
    try:
        proc = subprocess.Popen(
            [python, "-c", BOOT, str(PACKAGE_DIR.parent), PACKAGE_DIR.name, json.dumps(asdict(inner)), str(workdir)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        shutil.rmtree(workdir, ignore_errors=True)
        raise GenerationError(f"Could not start the external Python '{python}': {exc.strerror or exc}.") from None
    current_process = proc
    lines: queue.Queue = queue.Queue()
    errors: deque = deque(maxlen=50)  # the worker's error output: its last line explains a crash
    threading.Thread(target=lambda: [lines.put(l) for l in proc.stdout] and None, daemon=True).start()
    err_reader = threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True)
    err_reader.start()
    error, done = "", False
    try:
        while True:
            if should_stop is not None and should_stop():
                proc.kill()
                proc.wait()
                raise GenerationCancelled()
            try:
                line = lines.get(timeout=0.05).strip()
            except queue.Empty:
                if proc.poll() is not None and lines.empty():
                    break
                continue
            if line.startswith("progress ") and progress:
                progress(float(line.split()[1]))
            elif line.startswith("error "):
                error = line[6:]
            elif line == "done":
                done = True
        code = proc.wait()
        if error:
            raise GenerationError(error)
        if not done or code != 0:
            err_reader.join(timeout=2)
            raise GenerationError(f"The external Python worker stopped unexpectedly (exit code {code}"
                                  f"{last_line(errors)}); the next generation starts a new one.")
        manifest = json.loads((workdir / "manifest.json").read_text())
        maps = {p.stem: np.load(p, allow_pickle=False) for p in workdir.glob("*.npy")}
        return maps, manifest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        err_reader.join(timeout=2)
        proc.stderr.close()
        current_process = None
        shutil.rmtree(workdir, ignore_errors=True)
