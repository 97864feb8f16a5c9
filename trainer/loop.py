"""The single-process training loop of the translator trainers (trainer.translator,
trainer.cyclegan), and the stop request every loop shares. The generator's loop (trainer.train) is
its own: it runs under torchrun."""
from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
import time

from .checkpoints import latest_checkpoint


class StopRequest:
    """SIGINT / SIGTERM ask the loop to stop at the end of the current step, so that what is saved
    is a whole step and a resume continues exactly; a second signal stops at once (the newest
    checkpoint on disk stands)."""

    def __init__(self):
        self.requested = False

    def __call__(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def install(self, stack: contextlib.ExitStack) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                stack.callback(signal.signal, sig, signal.signal(sig, self))
        return self


def budget_spent(step: int, seconds: float, steps: int, minutes: float) -> str | None:
    """Why a run has nothing left to train ('N steps' or 'time budget of M min'), or None."""
    if step >= steps:
        return f"{steps} steps"
    if minutes and seconds >= minutes * 60:
        return f"time budget of {minutes:g} min"
    return None


def run_steps(session, steps: int, minutes: float, log_every: int, ckpt_every: int, log=print) -> None:
    """Train `session` up to `steps` or the time budget (`minutes`; 0: none), then save it.
    Every `log_every` steps (and the last) a row of losses goes to the run's log.jsonl and to `log`;
    every `ckpt_every` steps a checkpoint. SIGINT / SIGTERM: the current step ends, is saved, and
    KeyboardInterrupt is raised. session: .run (the run folder), .step and .seconds (as resumed),
    .train_step() -> {name: loss (a float or a 0-d tensor)}, .save() -> the checkpoint's path."""
    spent = budget_spent(session.step, session.seconds, steps, minutes)
    if spent:  # a rerun of a finished run: nothing to train, nothing to save again
        log(f"the run already reached its {spent} at step {session.step}; its checkpoint is "
            f"{latest_checkpoint(session.run)}")
        return
    started = time.perf_counter() - session.seconds
    with contextlib.ExitStack() as stack:
        stop = StopRequest().install(stack)
        logf = stack.enter_context(open(session.run / "log.jsonl", "a"))
        while not stop.requested and not budget_spent(session.step, session.seconds, steps, minutes):
            losses = session.train_step()
            session.seconds = time.perf_counter() - started
            step = session.step
            if step % log_every == 0 or step == steps or stop.requested:
                row = {"step": step, "seconds": round(session.seconds, 1),
                       **{k: round(v.item() if hasattr(v, "item") else v, 5) for k, v in losses.items()}}
                logf.write(json.dumps(row) + "\n")
                logf.flush()
                log(json.dumps(row))
            if step % ckpt_every == 0:
                session.save()
        if stop.requested and session.step < steps:  # stopped by a signal, between two whole steps
            print(f"interrupted: saved step {session.step} to {session.save()}; rerun the same command to resume",
                  file=sys.stderr)
            raise KeyboardInterrupt
    if session.step < steps:
        log(f"time budget of {minutes:g} min reached at step {session.step}")
    session.save()
