"""Progress and cancelling for the engine's long jobs: a stage's share of the progress bar, and the
points where a job checks whether the user asked it to stop (it then raises GenerationCancelled)."""
from __future__ import annotations

from typing import Callable

from .request import GenerationCancelled

Progress = Callable[[float], None]


def cancel_point(should_stop: Callable[[], bool] | None) -> None:
    if should_stop is not None and should_stop():
        raise GenerationCancelled()


def stage_progress(progress: Progress | None, should_stop: Callable[[], bool] | None, start: float,
                   span: float) -> Progress:
    """A progress callback for one stage (its 0..1 mapped onto start..start+span) that is also a
    cancel point: the stages call it between their steps and tiles."""
    def report(fraction: float) -> None:
        cancel_point(should_stop)
        if progress is not None:
            progress(start + span * min(max(fraction, 0.0), 1.0))
    return report
