"""The single-process training loop of the translator trainers (trainer.translator,
trainer.cyclegan). The generator's loop (trainer.train) is its own: it runs under torchrun."""
from __future__ import annotations

import json
import time


def run_steps(session, steps: int, minutes: float, log_every: int, ckpt_every: int, log=print) -> None:
    """Train `session` up to `steps` or the time budget (`minutes`; 0: none), then save it.
    Every `log_every` steps (and the last) a row of losses goes to the run's log.jsonl and to `log`;
    every `ckpt_every` steps a checkpoint. session: .run (the run folder), .step and .seconds (as
    resumed), .train_step() -> {name: loss (a float or a 0-d tensor)}, .save()."""
    started = time.perf_counter() - session.seconds
    with open(session.run / "log.jsonl", "a") as logf:
        while session.step < steps:
            losses = session.train_step()
            session.seconds = time.perf_counter() - started
            step = session.step
            if step % log_every == 0 or step == steps:
                row = {"step": step, "seconds": round(session.seconds, 1),
                       **{k: round(v.item() if hasattr(v, "item") else v, 5) for k, v in losses.items()}}
                logf.write(json.dumps(row) + "\n")
                logf.flush()
                log(json.dumps(row))
            if step % ckpt_every == 0:
                session.save()
            if minutes and session.seconds > minutes * 60:
                log(f"time budget of {minutes:g} min reached at step {step}")
                break
    session.save()
