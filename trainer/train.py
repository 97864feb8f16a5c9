"""The training loop: tileable generator vs patch discriminator, hinge + R1, DiffAugment, EMA,
metrics, atomic checkpoints with exact resume, and DistributedDataParallel under torchrun."""
from __future__ import annotations

import contextlib
import json
import os
import platform
import signal
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP

from blender_texgan.core.architecture import PERIODIC_SGAN_V1, PeriodicGeneratorConfig
from blender_texgan.core.latent import LatentLayout, grid_offset, make_latent
from blender_texgan.core.maps import GENERATED_CHANNEL_COUNT, complete_map_set, split_channels
from blender_texgan.core.png import write_png
from blender_texgan.core.tiling import seam_ratio, tile
from blender_texgan.engine.nets import build_generator

from .augment import augment
from .data import CropSampler, TrainingData, load_training_data
from .discriminator import PatchDiscriminator
from .losses import d_hinge, g_hinge, r1_penalty, sliced_patch_loss
from .options import TrainOptions

COLLAPSE_DIVERSITY = 0.3  # diversity ratio below this: the generator makes one texture


# ---------------------------------------------------------------- checkpoints

def checkpoint_dir(run: Path) -> Path:
    return Path(run) / "checkpoints"


def latest_checkpoint(run: Path) -> Path | None:
    found = sorted(checkpoint_dir(run).glob("ckpt-*.pt"))
    return found[-1] if found else None


def save_checkpoint(run: Path, state: dict, step: int, keep: int) -> Path:
    folder = checkpoint_dir(run)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"ckpt-{step:08d}.pt"
    tmp = path.with_name(path.name + ".part")
    torch.save(state, tmp)
    os.replace(tmp, path)  # atomic: a killed run never leaves a half-written checkpoint
    for old in sorted(folder.glob("ckpt-*.pt"))[:-keep]:
        old.unlink()
    return path


def load_checkpoint(path: Path) -> dict:
    return torch.load(path, map_location="cpu", weights_only=True)


def layout_of(opts: TrainOptions, scale: int) -> LatentLayout:
    return LatentLayout(opts.local_channels, opts.global_channels, tuple(float(p) for p in opts.periods), scale)


def generator_config(opts: TrainOptions) -> tuple[PeriodicGeneratorConfig, LatentLayout]:
    scale = 2 ** (len(opts.channels) - 1)
    layout = layout_of(opts, scale)
    cfg = PeriodicGeneratorConfig(latent_channels=layout.channels, channels=tuple(opts.channels),
                                  upsample=opts.upsample)
    return cfg, layout


# ---------------------------------------------------------------- samples and metrics

def generate_batch(G, layout: LatentLayout, crop: int, count: int, seed: int, device,
                   roll: bool = True) -> np.ndarray:
    """`count` generated crops; rolled like the add-on's output (core.latent.grid_offset) unless
    `roll` is False, which keeps every wrap border on the latent-cell grid."""
    side = crop // layout.scale
    out = []
    rng = np.random.default_rng(seed)
    with torch.no_grad():
        for start in range(0, count, 16):
            z = make_latent(layout, rng, side, side, min(16, count - start))
            out.append(G(torch.from_numpy(z).to(device)).float().cpu().numpy())
    out = np.concatenate(out)
    if roll:
        out = roll_like_engine(out, seed, layout.scale)
    return out


def roll_like_engine(batch: np.ndarray, seed: int, scale: int) -> np.ndarray:
    return np.stack([np.roll(img, grid_offset(seed * 100_003 + i, scale), axis=(1, 2))
                     for i, img in enumerate(batch)])


def sample_grid(raw: np.ndarray, normal_strength: float) -> np.ndarray:
    """Samples, each tiled 2x2 so seams would show; rows: albedo | normal | height."""
    columns = []
    for r in raw:
        maps = complete_map_set(split_channels(r), normal_strength)
        h = np.repeat(maps["height"], 3, axis=-1)
        columns.append(np.concatenate([tile(maps["albedo"]), tile(maps["normal"]), tile(h)], axis=0))
    return np.concatenate(columns, axis=1)


def measure(G, layout: LatentLayout, data: TrainingData, crop: int, count: int, seed: int, device) -> dict:
    """Metrics of generated crops, rolled as the add-on rolls them, plus the grid ratio of the
    unrolled ones (where the wrap border would otherwise always lie)."""
    from .metrics import evaluate, grid_ratio

    heldout, reference = data.metric_crops(crop, count, seed)
    fake = generate_batch(G, layout, crop, count, seed + 1, device, roll=False)
    grid = grid_ratio(fake, layout.scale)
    metrics = evaluate(roll_like_engine(fake, seed + 1, layout.scale), heldout, reference, seed=seed)
    metrics["seam_ratio_on_grid"] = float(np.mean([seam_ratio(np.moveaxis(f, 0, -1)) for f in fake]))
    metrics["grid_ratio"] = grid
    return metrics


def pin_constant_channels(G, constants: dict[int, float]) -> None:
    """Make G output exactly `value` in each channel the data holds constant (e.g. roughness 0.5 for
    an albedo-only photo): zero head weights and bias logit(value). Otherwise the discriminator
    wins by spotting any deviation from the constant and stops teaching the rest."""
    if not constants:
        return
    with torch.no_grad():
        for c, value in constants.items():
            v = min(max(value, 1e-4), 1 - 1e-4)
            G.head.weight[c].zero_()
            G.head.bias[c] = float(np.log(v / (1 - v)))


# ---------------------------------------------------------------- distributed

def distributed_setup(device_pref: str) -> tuple[int, int, torch.device]:
    """(rank, world size, device). Under torchrun, joins the process group (NCCL on CUDA, else gloo)."""
    from blender_texgan.engine.devices import pick_device

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


def all_reduce_grads(module: torch.nn.Module, world: int) -> None:
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


# ---------------------------------------------------------------- loop

def train(opts: TrainOptions) -> Path | None:
    """Train (or resume) the run in opts.out; returns the last checkpoint path."""
    from tqdm import tqdm

    rank, world, device = distributed_setup(opts.device)
    main = rank == 0
    run = Path(opts.out)
    cfg, layout = generator_config(opts)
    if opts.crop % cfg.scale:
        raise ValueError(f"crop must be a multiple of {cfg.scale} (the latent scale)")
    data = load_training_data(opts.preset, opts.data, opts.crop, opts.pool_count, opts.pool_size, opts.seed,
                              opts.downsample)
    ckpt = latest_checkpoint(run)
    state = load_checkpoint(ckpt) if ckpt is not None else None
    if state is not None:
        trained = {"name": state.get("architecture", PERIODIC_SGAN_V1), "config": state["config"]}
        if trained != {"name": cfg.name, "config": cfg.to_dict()}:
            raise ValueError(f"run '{run}' holds a {trained['name']} generator with {trained['config']}; "
                             f"these options build {cfg.name} with {cfg.to_dict()}: use a new run folder")
    if main:
        (run / "samples").mkdir(parents=True, exist_ok=True)
        (run / "options.json").write_text(json.dumps(asdict(opts), indent=2))

    torch.manual_seed(opts.seed)  # same init on every rank
    sampler = CropSampler(data.stacks, opts.crop, seed=[opts.seed, rank], wrap=data.wrap)
    aug_gen = torch.Generator().manual_seed(opts.seed * 7919 + rank)
    cuda = device.type == "cuda"
    memory_format = torch.channels_last if cuda else torch.contiguous_format
    G = build_generator(cfg).to(device, memory_format=memory_format)
    D = PatchDiscriminator(GENERATED_CHANNEL_COUNT, opts.d_width).to(device, memory_format=memory_format)
    ema = build_generator(cfg).to(device).eval().requires_grad_(False)
    constants = data.constant_channels()
    pin_constant_channels(G, constants)
    ema.load_state_dict(G.state_dict())
    opt_g = torch.optim.Adam(G.parameters(), lr=opts.lr_g, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=opts.lr_d, betas=(0.0, 0.99))

    step, seconds = 0, 0.0
    if state is not None:
        G.load_state_dict(state["G"]), D.load_state_dict(state["D"]), ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"]), opt_d.load_state_dict(state["opt_d"])
        step, seconds = state["step"], state["seconds"]
        if rank == 0:  # rank 0's random streams resume exactly; other ranks reseed by step
            sampler.set_state(state["sampler"])
            aug_gen.set_state(state["aug_rng"])
        else:
            sampler.rng = np.random.default_rng([opts.seed, rank, step])
            aug_gen.manual_seed(opts.seed * 7919 + rank * 104729 + step)
        if main:
            print(f"resuming {run} from step {step} ({ckpt.name})", file=sys.stderr)

    G_train, D_train = G, D
    if world > 1:
        G_train = DDP(G, device_ids=[device.index] if cuda else None)
        D_train = DDP(D, device_ids=[device.index] if cuda else None)

    def snapshot() -> dict:
        return {"G": G.state_dict(), "D": D.state_dict(), "ema": ema.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
                "seconds": seconds, "config": cfg.to_dict(), "architecture": cfg.name, "latent": layout.to_dict(),
                "options": asdict(opts), "normal_strength": data.normal_strength,
                "data_description": data.description, "credits": data.credits,
                "sampler": sampler.get_state(), "aug_rng": aug_gen.get_state()}

    def aug(x):
        return augment(x, aug_gen) if opts.augment else x

    autocast = (lambda: torch.autocast("cuda", dtype=torch.bfloat16)) if cuda else contextlib.nullcontext
    side = opts.crop // cfg.scale

    def on_sigterm(signum, frame):
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, on_sigterm) if main else None
    log = open(run / "log.jsonl", "a") if main else None
    metrics_log = open(run / "metrics.jsonl", "a") if main else None
    bar = tqdm(total=opts.steps, initial=step, desc="train", unit="step", dynamic_ncols=True, disable=not main)
    last_saved, interrupted = None, False
    try:
        while step < opts.steps:
            t0 = time.perf_counter()
            real = torch.from_numpy(sampler.sample(opts.batch)).to(device, memory_format=memory_format)
            z = torch.from_numpy(make_latent(layout, sampler.rng, side, side, opts.batch)).to(device)

            # Discriminator: one forward over real and fake together.
            with autocast():
                fake = G_train(z)
                logits = D_train(aug(torch.cat([real, fake.detach()])))
                loss_d = d_hinge(logits[:opts.batch].float(), logits[opts.batch:].float())
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            # Lazy R1 on reals (its own step; gradients averaged by hand across ranks).
            r1 = None
            if opts.r1_gamma > 0 and step % opts.r1_every == 0:
                opt_d.zero_grad(set_to_none=True)
                r1 = r1_penalty(D, aug(real).float())
                (r1 * opts.r1_gamma * 0.5 * opts.r1_every).backward()
                if world > 1:
                    all_reduce_grads(D, world)
                opt_d.step()

            # Generator: through the bare D, so only G's gradients are synchronised.
            with autocast():
                loss_g = g_hinge(D(aug(fake)).float())
            if opts.patch_loss > 0:  # float32: sorting bf16 projections would lose the distribution
                loss_g = loss_g + opts.patch_loss * sliced_patch_loss(fake.float(), real, aug_gen,
                                                                      space=opts.patch_space)
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            pin_constant_channels(G, constants)

            with torch.no_grad():
                for pe, pg in zip(ema.parameters(), G.parameters()):
                    pe.lerp_(pg.detach(), 1.0 - opts.ema_decay)
            step += 1
            seconds += time.perf_counter() - t0
            if not main:
                continue
            bar.update(1)
            bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
            record = {"step": step, "loss_d": round(loss_d.item(), 5), "loss_g": round(loss_g.item(), 5),
                      "seconds": round(seconds, 3)}
            if r1 is not None:
                record["r1"] = round(r1.item(), 5)
            log.write(json.dumps(record) + "\n")
            if step % opts.sample_every == 0 or step == opts.steps:
                raw = generate_batch(ema, layout, opts.crop, 4, opts.seed, device)
                write_png(run / "samples" / f"step-{step:08d}.png", sample_grid(raw, data.normal_strength))
            if (opts.eval_every and step % opts.eval_every == 0) or step == opts.steps:
                metrics = measure(ema, layout, data, opts.crop, opts.eval_count, opts.seed, device)
                metrics_log.write(json.dumps({"step": step, **metrics}) + "\n")
                metrics_log.flush()
                if metrics["diversity_ratio"] < COLLAPSE_DIVERSITY:
                    tqdm.write(f"warning: step {step}: diversity ratio {metrics['diversity_ratio']:.2f} "
                               f"< {COLLAPSE_DIVERSITY}: the generator may have collapsed to one texture", file=sys.stderr)
            if step % opts.ckpt_every == 0 or step == opts.steps:
                last_saved = save_checkpoint(run, snapshot(), step, opts.keep)
                log.flush()
        if world > 1:
            _check_sync(G, world, main, log)
            dist.barrier()  # no rank tears its connections down while another still uses them
    except KeyboardInterrupt:
        interrupted = True
        if main:
            last_saved = save_checkpoint(run, snapshot(), step, opts.keep)
            tqdm.write(f"interrupted: saved step {step} to {last_saved}; rerun the same command to resume", file=sys.stderr)
    finally:
        bar.close()
        for f in (log, metrics_log):
            if f is not None:
                f.close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    if interrupted:
        raise KeyboardInterrupt
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


def machine_summary() -> str:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU threads, {gpu}, "
            f"torch {torch.__version__}")
