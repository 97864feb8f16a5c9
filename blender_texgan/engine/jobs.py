"""Generation jobs on a worker thread: progress, ETA, cancel, one job at a time.

The heavy work (torch or numpy) releases the GIL, so Blender's main thread stays responsive; the
main thread only polls `Job` objects and builds datablocks when one is done. A job runs
`generate` by default, or any function of the same shape (request, progress, should_stop) ->
(result, manifest): the photo tools (engine.photo.pipeline, engine.photo.save_as_model) run through it too.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from ..core.modelfile import ModelFileError
from .generate import generate
from .request import GenerationCancelled, GenerationError

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"

# generate-compatible: run(request, progress=, should_stop=) -> (maps or another result, manifest)
GenerateFn = Callable[..., tuple[object, dict]]


@dataclass
class Job:
    request: object  # a GenerationRequest, or another engine's typed request (engine.photo.pipeline)
    state: str = QUEUED
    progress: float = 0.0
    error: str = ""
    result: tuple[object, dict] | None = None
    started: float = 0.0
    finished: float = 0.0
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)
    _thread: threading.Thread | None = field(default=None, repr=False)
    _prepare: Callable[[dict], object] | None = field(default=None, repr=False)
    _run: GenerateFn | None = field(default=None, repr=False)

    @property
    def active(self) -> bool:
        return self.state in (QUEUED, RUNNING)

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancel_requested(self) -> bool:
        return self._cancel.is_set()

    def eta_seconds(self) -> float | None:
        """Remaining seconds, extrapolated from progress so far (None until there is some)."""
        if self.state != RUNNING or self.progress <= 0.02:
            return None
        elapsed = time.perf_counter() - self.started
        return elapsed * (1.0 - self.progress) / self.progress

    def progress_text(self) -> str:
        """'42%, 3 s left': the one wording of progress the status bar and the panel share."""
        eta = self.eta_seconds()
        return f"{self.progress * 100:.0f}%" + (f", {eta:.0f} s left" if eta is not None else "")

    def wait(self, timeout: float | None = None) -> bool:
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.active


def modal_step(job: Job, event_type: str, event_value: str = "") -> str:
    """What the modal operator does on one event, as plain logic (the operator only acts on it):
    "cancel" (Esc pressed: stop the job), "pass" (not our timer), "progress" (still running: update
    the status), or the finished job's state: "done" (build the material), "failed", "cancelled"."""
    if event_type == "ESC" and event_value == "PRESS":
        return "cancel"
    if event_type != "TIMER":
        return "pass"
    if job.active:
        return "progress"
    return job.state


class JobRunner:
    """Runs one job at a time on a daemon thread; a second submit while one runs is refused."""

    def __init__(self, run: GenerateFn = generate):
        self._run = run
        self._lock = threading.Lock()
        self.current: Job | None = None

    def busy(self) -> bool:
        return self.current is not None and self.current.active

    def submit(self, request, prepare: Callable[[dict], object] | None = None,
               run: GenerateFn | None = None) -> Job:
        """Start a job; `prepare(maps)`, if given, also runs on the worker and replaces the maps in
        the result (for example PNG encoding), so the main thread has less to do. `run` replaces
        the runner's function (generate) for this job: run(request, progress=, should_stop=)."""
        with self._lock:
            if self.busy():
                raise GenerationError("A material is already being generated: wait for it or cancel it (Esc).")
            job = Job(request)
            job._prepare = prepare
            job._run = run or self._run
            self.current = job
            job._thread = threading.Thread(target=self._work, args=(job,), name="texgan-generate", daemon=True)
            job.started = time.perf_counter()
            job.state = RUNNING
            job._thread.start()
        return job

    def _work(self, job: Job) -> None:
        def progress(fraction: float) -> None:
            job.progress = max(job.progress, min(1.0, fraction))

        try:
            maps, manifest = job._run(job.request, progress=progress, should_stop=job._cancel.is_set)
            if job._prepare is not None and not job._cancel.is_set():
                maps = job._prepare(maps)
            job.result = (maps, manifest)
            job.state = CANCELLED if job._cancel.is_set() else DONE
        except GenerationCancelled:
            job.state = CANCELLED
        except (ModelFileError, GenerationError) as exc:
            job.error, job.state = str(exc), FAILED
        except MemoryError:
            job.error, job.state = "Not enough memory for this resolution: try a smaller one.", FAILED
        except Exception as exc:  # a bug must still reach the user as one line, never kill Blender
            job.error, job.state = f"Generation failed unexpectedly: {type(exc).__name__}: {exc}", FAILED
        finally:
            job.finished = time.perf_counter()
            if job.state != DONE:
                job.result = None


RUNNER = JobRunner()
