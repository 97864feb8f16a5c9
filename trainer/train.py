"""The training loop: one run's session (trainer.session: the GAN; trainer.vae: the VAE) stepped
until its steps or minutes are spent, with samples, metrics, atomic checkpoints, exact resume after
a signal, and DistributedDataParallel under torchrun."""
from __future__ import annotations

import contextlib
import json
import os
import sys
from dataclasses import asdict
from pathlib import Path

import torch
import torch.distributed as dist
from tqdm import tqdm

from blender_texgan.core.arch.generator import PERIODIC_SGAN_V1, PeriodicGeneratorConfig
from blender_texgan.engine.devices import pick_device

from .checkpoints import (
    check_run_kind,
    latest_checkpoint,
    load_newest_good,
    remove_partial_files,
    save_checkpoint,
    truncate_logs,
)
from .loop import StopRequest, budget_spent
from .options import TrainOptions, check_run_folder, flag, learning_changes, validate
from .session import Session, generator_config
from .vae import VAESession

SESSIONS = {"generator": Session, "vae": VAESession}  # TrainOptions.kind -> what one run holds and steps

# ---------------------------------------------------------------- distributed

def distributed_setup(device_pref: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under torchrun, joins the process group (NCCL on CUDA, else gloo)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world == 1:
        return 0, 1, pick_device(device_pref)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    use_cuda = torch.cuda.is_available() and device_pref in ("auto", "cuda")
    if use_cuda:
        torch.cuda.set_device(local_rank)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return rank, world, torch.device(f"cuda:{local_rank}") if use_cuda else torch.device("cpu")


def params_checksum(module: torch.nn.Module) -> float:
    return float(sum(p.detach().double().sum().item() * (i + 1) for i, p in enumerate(module.parameters())))


# ---------------------------------------------------------------- loop

def stop_agreed(stop: StopRequest, world: int, device, also: bool = False) -> bool:
    """Stop now? (a signal, or `also`, e.g. the time budget). Under torchrun every rank must
    stop at the same step: any rank's reason counts."""
    if world == 1:
        return stop.requested or also
    flag = torch.tensor([float(stop.requested or also)], device=device)
    dist.all_reduce(flag, op=dist.ReduceOp.MAX)
    return bool(flag.item())


def open_run(run: Path, opts: TrainOptions, cfg: PeriodicGeneratorConfig, main: bool,
             allow_changes: bool) -> tuple[Path, dict] | None:
    """Create or reopen the run folder: (checkpoint, state) to resume from, or None for a new run.

    Refuses a resume whose options would change what the run learns, unless `allow_changes`;
    removes partial files a killed save left. Runs before the data is loaded, so a refusal is quick."""
    if main:
        try:
            (run / "samples").mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ValueError(f"cannot create the run folder '{run}': {exc.strerror or exc}") from None
        remove_partial_files(run)
    found = load_newest_good(run, quarantine=main)
    if found is None:
        return None
    ckpt, state = found
    trained = {"name": state.get("architecture", PERIODIC_SGAN_V1), "config": state["config"]}
    if trained != {"name": cfg.name, "config": cfg.to_dict()}:
        raise ValueError(f"run '{run}' holds a {trained['name']} generator with {trained['config']}; "
                         f"these options build {cfg.name} with {cfg.to_dict()}: use a new run folder")
    changes = learning_changes(state["options"], opts)
    if changes and not allow_changes:
        name, (old, new) = next(iter(changes.items()))
        more = f" (and {len(changes) - 1} more)" if len(changes) > 1 else ""
        raise ValueError(f"run '{run}' was trained with {flag(name)} {old}, this command says {new}{more}: "
                         "rerun with the run's options, use a new run folder, or add --resume-with-changes")
    return ckpt, state


def record_start(run: Path, opts: TrainOptions, resumed: tuple[Path, dict] | None) -> None:
    """Rank 0, once the data loaded: options.json (keeping the run's own command), logs cut back to
    the checkpoint's step (a killed run replays the steps after it), and a resume note in log.jsonl."""
    if resumed is None:
        truncate_logs(run, 0)
        (run / "options.json").write_text(json.dumps(asdict(opts), indent=2))
        return
    ckpt, state = resumed
    changes = learning_changes(state["options"], opts)
    truncate_logs(run, state["step"])
    with open(run / "log.jsonl", "a") as log:
        log.write(json.dumps({"resumed_from_step": state["step"], "checkpoint": ckpt.name, "command": opts.command,
                              "changes": {k: [old, new] for k, (old, new) in changes.items()}}) + "\n")
    original = dict(asdict(opts), command=state["options"].get("command", opts.command))
    (run / "options.json").write_text(json.dumps(original, indent=2))
    print(f"resuming {run} from step {state['step']} ({ckpt.name})", file=sys.stderr)


def train(opts: TrainOptions, allow_changes: bool = False) -> Path | None:
    """Train (or resume) the run in opts.out; returns the last checkpoint path. Raises
    KeyboardInterrupt after saving the last whole step when stopped by SIGINT or SIGTERM."""
    validate(opts)
    run = Path(opts.out)
    check_run_folder(run)
    check_run_kind(run, opts.kind)
    rank, world, device = distributed_setup(opts.device)
    main = rank == 0
    resumed = open_run(run, opts, generator_config(opts)[0], main, allow_changes)
    session = SESSIONS[opts.kind](opts, rank, world, device)
    if main:
        record_start(run, opts, resumed)
    if resumed is not None:
        session.resume(resumed[1])
    session.wrap_ddp()
    last_saved = None
    spent = budget_spent(session.step, session.seconds, opts.steps, opts.max_minutes)
    if spent and main:  # a rerun of a finished run: say so rather than train nothing in silence
        print(f"the run already reached its {spent} at step {session.step}; its checkpoint is "
              f"{latest_checkpoint(run)}. Export it, or rerun with more --steps or --max-minutes to go on.",
              file=sys.stderr)
    with contextlib.ExitStack() as stack:
        stop = StopRequest().install(stack)
        files = {"log": stack.enter_context(open(run / "log.jsonl", "a")),
                 "metrics": stack.enter_context(open(run / "metrics.jsonl", "a"))} if main else {}
        bar = stack.enter_context(tqdm(total=opts.steps, initial=session.step, desc="train", unit="step",
                                       dynamic_ncols=True, disable=not main))
        if world > 1:
            stack.callback(lambda: dist.is_initialized() and dist.destroy_process_group())
        while session.step < opts.steps and not stop_agreed(stop, world, device, session.out_of_time()):
            record = session.train_step()
            if main:
                bar.update(1)
                bar.set_postfix(session.postfix(record))
                files["log"].write(json.dumps(record) + "\n")
                final = session.step == opts.steps or session.out_of_time()
                last_saved = session.periodic_work(run, files, final) or last_saved
        if session.step < opts.steps and stop.requested:  # stopped by a signal, between two whole steps
            if main:
                last_saved = save_checkpoint(run, session.snapshot(), session.step, opts.keep)
                tqdm.write(f"interrupted: saved step {session.step} to {last_saved}; rerun the same command "
                           "to resume", file=sys.stderr)
            raise KeyboardInterrupt
        if session.step < opts.steps and main and not spent:
            tqdm.write(f"time budget of {opts.max_minutes:g} min reached at step {session.step}; saved "
                       f"{last_saved}. Export it, or rerun with a larger --max-minutes to go on.", file=sys.stderr)
        if world > 1:
            _check_sync(session.G, world, main, files.get("log"))
            dist.barrier()  # no rank tears its connections down while another still uses them
    return last_saved or latest_checkpoint(run)


def _check_sync(G, world: int, main: bool, log) -> None:
    """Every rank's generator weights must be identical; rank 0 logs the comparison."""
    mine = torch.tensor([params_checksum(G)], dtype=torch.float64)
    gathered = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(gathered, mine)
    if main:
        values = [g.item() for g in gathered]
        log.write(json.dumps({"world_size": world, "checksums": values,
                              "ranks_in_sync": all(v == values[0] for v in values)}) + "\n")
