"""The training loop: tileable generator vs patch discriminator, EMA, checkpoints, samples."""
from __future__ import annotations

import json
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from blender_texgan.core.architecture import PeriodicGeneratorConfig
from blender_texgan.core.maps import GENERATED_CHANNEL_COUNT, complete_map_set, split_channels
from blender_texgan.core.png import write_png
from blender_texgan.core.tiling import tile
from blender_texgan.engine.nets import build_generator

from .data import CropSampler, load_stacks
from .discriminator import PatchDiscriminator
from .losses import d_hinge, g_hinge
from .procedural import NORMAL_STRENGTH


@dataclass
class TrainOptions:
    out: str                                  # run folder (created)
    preset: str | None = "bricks"             # procedural preset, used when data is None
    data: str | None = None                   # folder of textures; overrides preset
    steps: int = 2000                         # generator updates
    batch: int = 8                            # images per step
    crop: int = 128                           # training crop side in pixels (multiple of the latent scale)
    lr_g: float = 2e-4                        # Adam learning rate, generator
    lr_d: float = 2e-4                        # Adam learning rate, discriminator
    ema_decay: float = 0.995                  # EMA of generator weights (the EMA is exported)
    seed: int = 0                             # seeds data, init and latents
    pool_count: int = 32                      # procedural textures generated for the pool
    pool_size: int = 256                      # side of each procedural texture
    latent_channels: int = 32                 # generator latent depth
    channels: list = field(default_factory=lambda: [64, 64, 48, 32, 16])  # generator widths per scale
    d_width: int = 32                         # discriminator base width
    ckpt_every: int = 250                     # steps between checkpoints
    sample_every: int = 250                   # steps between 2x2-tiled sample grids
    keep: int = 3                             # checkpoints kept
    device: str = "auto"                      # auto / cpu / cuda / mps
    command: str = ""                         # the command line that started the run


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


# ---------------------------------------------------------------- samples

def sample_grid(ema: torch.nn.Module, cfg: PeriodicGeneratorConfig, crop: int, seed: int,
                device: torch.device) -> np.ndarray:
    """Four samples, each tiled 2x2 so seams would show; rows: albedo | normal | height."""
    side = crop // cfg.scale
    z = torch.from_numpy(np.random.default_rng(seed).standard_normal(
        (4, cfg.latent_channels, side, side), dtype=np.float32)).to(device)
    with torch.no_grad():
        raw = ema(z).float().cpu().numpy()
    columns = []
    for r in raw:
        maps = complete_map_set(split_channels(r), NORMAL_STRENGTH)
        h = np.repeat(maps["height"], 3, axis=-1)
        columns.append(np.concatenate([tile(maps["albedo"]), tile(maps["normal"]), tile(h)], axis=0))
    return np.concatenate(columns, axis=1)


# ---------------------------------------------------------------- loop

def train(opts: TrainOptions) -> Path:
    """Train (or resume) the run in opts.out; returns the last checkpoint path."""
    from tqdm import tqdm

    from blender_texgan.engine.devices import pick_device

    run = Path(opts.out)
    run.mkdir(parents=True, exist_ok=True)
    (run / "samples").mkdir(exist_ok=True)
    device = pick_device(opts.device)
    cfg = PeriodicGeneratorConfig(latent_channels=opts.latent_channels, channels=tuple(opts.channels))
    if opts.crop % cfg.scale:
        raise ValueError(f"crop must be a multiple of {cfg.scale}")
    (run / "options.json").write_text(json.dumps(asdict(opts), indent=2))

    torch.manual_seed(opts.seed)
    stacks = load_stacks(opts.preset, Path(opts.data) if opts.data else None,
                         opts.pool_count, opts.pool_size, opts.seed)
    sampler = CropSampler(stacks, opts.crop, seed=opts.seed)
    G = build_generator(cfg).to(device)
    D = PatchDiscriminator(GENERATED_CHANNEL_COUNT, opts.d_width).to(device)
    ema = build_generator(cfg).to(device).eval()
    ema.load_state_dict(G.state_dict())
    ema.requires_grad_(False)
    opt_g = torch.optim.Adam(G.parameters(), lr=opts.lr_g, betas=(0.0, 0.99))
    opt_d = torch.optim.Adam(D.parameters(), lr=opts.lr_d, betas=(0.0, 0.99))

    step, seconds = 0, 0.0
    ckpt = latest_checkpoint(run)
    if ckpt is not None:
        state = load_checkpoint(ckpt)
        G.load_state_dict(state["G"]), D.load_state_dict(state["D"]), ema.load_state_dict(state["ema"])
        opt_g.load_state_dict(state["opt_g"]), opt_d.load_state_dict(state["opt_d"])
        step, seconds = state["step"], state["seconds"]
        sampler.rng = np.random.default_rng([opts.seed, step])
        print(f"resuming {run} from step {step}", file=sys.stderr)

    def snapshot() -> dict:
        return {"G": G.state_dict(), "D": D.state_dict(), "ema": ema.state_dict(),
                "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(), "step": step,
                "seconds": seconds, "config": cfg.to_dict(), "options": asdict(opts)}

    side = opts.crop // cfg.scale
    log = open(run / "log.jsonl", "a")
    bar = tqdm(total=opts.steps, initial=step, desc="train", unit="step", dynamic_ncols=True)
    last_saved = None
    try:
        while step < opts.steps:
            t0 = time.perf_counter()
            real = torch.from_numpy(sampler.sample(opts.batch)).to(device)
            z = torch.randn(opts.batch, cfg.latent_channels, side, side, device=device)

            fake = G(z)
            loss_d = d_hinge(D(real), D(fake.detach()))
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            loss_g = g_hinge(D(fake))
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()

            with torch.no_grad():
                for pe, pg in zip(ema.parameters(), G.parameters()):
                    pe.lerp_(pg, 1.0 - opts.ema_decay)
            step += 1
            seconds += time.perf_counter() - t0
            bar.update(1)
            bar.set_postfix(d=f"{loss_d.item():.3f}", g=f"{loss_g.item():.3f}")
            log.write(json.dumps({"step": step, "loss_d": loss_d.item(), "loss_g": loss_g.item(),
                                  "seconds": round(seconds, 3)}) + "\n")
            if step % opts.sample_every == 0 or step == opts.steps:
                write_png(run / "samples" / f"step-{step:08d}.png",
                          sample_grid(ema, cfg, opts.crop, opts.seed, device))
            if step % opts.ckpt_every == 0 or step == opts.steps:
                last_saved = save_checkpoint(run, snapshot(), step, opts.keep)
    except KeyboardInterrupt:
        last_saved = save_checkpoint(run, snapshot(), step, opts.keep)
        print(f"\ninterrupted: saved step {step} to {last_saved}; rerun the same command to resume",
              file=sys.stderr)
    finally:
        bar.close()
        log.close()
    return last_saved or latest_checkpoint(run)


def machine_summary() -> str:
    return f"{platform.machine()} {platform.system()}, {os.cpu_count()} CPU threads, torch {torch.__version__}"
