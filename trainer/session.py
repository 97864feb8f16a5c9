"""One training run's state and its step: the tileable generator against a patch discriminator
(hinge + lazy R1, DiffAugment, the sliced patch loss, EMA), with what a checkpoint holds. The loop
around it (trainer.train) also runs trainer.vae's VAESession, which builds on this one."""
from __future__ import annotations

import contextlib
import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel as DDP
from tqdm import tqdm

from blender_texgan.core.arch.generator import PeriodicGeneratorConfig
from blender_texgan.core.latent import LatentLayout, make_latent
from blender_texgan.core.maps import GENERATED_CHANNEL_COUNT
from blender_texgan.core.png import write_png
from blender_texgan.engine.nets.generator import build_generator

from .adam import Adam
from .augment import augment
from .checkpoints import save_checkpoint
from .data import CropSampler, load_training_data
from .discriminator import PatchDiscriminator
from .losses import d_hinge, g_hinge, r1_penalty, sliced_patch_loss
from .options import TrainOptions
from .sampling import generate_batch, measure, sample_grid

COLLAPSE_DIVERSITY = 0.3  # diversity ratio below this: the generator makes one texture


def layout_of(opts: TrainOptions, scale: int) -> LatentLayout:
    if opts.kind == "vae":  # a VAE's latent is all local: what the encoder gives, cell by cell
        return LatentLayout(opts.local_channels, 0, (), scale)
    return LatentLayout(opts.local_channels, opts.global_channels, tuple(float(p) for p in opts.periods), scale)


def generator_config(opts: TrainOptions) -> tuple[PeriodicGeneratorConfig, LatentLayout]:
    scale = 2 ** (len(opts.channels) - 1)
    layout = layout_of(opts, scale)
    cfg = PeriodicGeneratorConfig(latent_channels=layout.channels, channels=tuple(opts.channels),
                                  upsample=opts.upsample)
    return cfg, layout


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


def all_reduce_grads(module: torch.nn.Module, world: int) -> None:
    for p in module.parameters():
        if p.grad is not None:
            dist.all_reduce(p.grad)
            p.grad /= world


class Session:
    """Everything one training run holds: data, random streams, networks, optimisers, counters."""

    def __init__(self, opts: TrainOptions, rank: int, world: int, device):
        self.opts, self.rank, self.world, self.device = opts, rank, world, device
        self.main = rank == 0
        self.cfg, self.layout = generator_config(opts)
        self.data = load_training_data(opts.preset, opts.data, opts.crop, opts.pool_count, opts.pool_size,
                                       opts.seed, opts.downsample)
        self.cuda = device.type == "cuda"
        self.memory_format = torch.channels_last if self.cuda else torch.contiguous_format
        torch.manual_seed(opts.seed)  # same init on every rank
        self.sampler = CropSampler(self.data.stacks, opts.crop, seed=[opts.seed, rank], wrap=self.data.wrap)
        self.aug_gen = torch.Generator().manual_seed(opts.seed * 7919 + rank)
        self.G = build_generator(self.cfg).to(device, memory_format=self.memory_format)
        self.D = PatchDiscriminator(GENERATED_CHANNEL_COUNT, opts.d_width).to(device, memory_format=self.memory_format)
        self.ema = build_generator(self.cfg).to(device).eval().requires_grad_(False)
        self.constants = self.data.constant_channels()
        pin_constant_channels(self.G, self.constants)
        self.ema.load_state_dict(self.G.state_dict())
        self.opt_g = Adam(self.G.parameters(), lr=opts.lr_g, betas=(0.0, 0.99))
        self.opt_d = Adam(self.D.parameters(), lr=opts.lr_d, betas=(0.0, 0.99))
        self.step, self.seconds = 0, 0.0
        self.G_train, self.D_train = self.G, self.D

    def resume(self, state: dict) -> None:
        """Load a checkpoint; rank 0's random streams resume exactly, other ranks reseed by step."""
        opts = self.opts
        self.G.load_state_dict(state["G"]), self.D.load_state_dict(state["D"])
        self.ema.load_state_dict(state["ema"])
        self.opt_g.load_state_dict(state["opt_g"]), self.opt_d.load_state_dict(state["opt_d"])
        for optimiser, lr in ((self.opt_g, opts.lr_g), (self.opt_d, opts.lr_d)):
            for group in optimiser.param_groups:
                group["lr"] = lr  # the options' rate (differs only after --resume-with-changes)
        self.step, self.seconds = state["step"], state["seconds"]
        if self.rank == 0:
            self.sampler.set_state(state["sampler"])
            self.aug_gen.set_state(state["aug_rng"])
        else:
            self.sampler.rng = np.random.default_rng([opts.seed, self.rank, self.step])
            self.aug_gen.manual_seed(opts.seed * 7919 + self.rank * 104729 + self.step)

    def wrap_ddp(self) -> None:
        if self.world > 1:
            ids = [self.device.index] if self.cuda else None
            self.G_train, self.D_train = DDP(self.G, device_ids=ids), DDP(self.D, device_ids=ids)

    def snapshot(self) -> dict:
        return {"G": self.G.state_dict(), "D": self.D.state_dict(), "ema": self.ema.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(), "step": self.step,
                "seconds": self.seconds, "config": self.cfg.to_dict(), "architecture": self.cfg.name,
                "latent": self.layout.to_dict(), "options": asdict(self.opts),
                "normal_strength": self.data.normal_strength, "data_description": self.data.description,
                "credits": self.data.credits, "sampler": self.sampler.get_state(),
                "aug_rng": self.aug_gen.get_state()}

    @staticmethod
    def postfix(record: dict) -> dict:
        """What the progress bar shows of a step's log record."""
        return {"d": f"{record['loss_d']:.3f}", "g": f"{record['loss_g']:.3f}"}

    def out_of_time(self) -> bool:
        """Has the run trained for its --max-minutes (all sessions together)?"""
        return bool(self.opts.max_minutes) and self.seconds >= 60 * self.opts.max_minutes

    def aug(self, x):
        return augment(x, self.aug_gen) if self.opts.augment else x

    def autocast(self):
        return torch.autocast("cuda", dtype=torch.bfloat16) if self.cuda else contextlib.nullcontext()

    def train_step(self) -> dict:
        """One step: D on real and fake, lazy R1, G (hinge + patch loss), EMA. Returns the log record."""
        opts, batch = self.opts, self.opts.batch
        t0 = time.perf_counter()
        side = opts.crop // self.cfg.scale
        real = torch.from_numpy(self.sampler.sample(batch)).to(self.device, memory_format=self.memory_format)
        z = torch.from_numpy(make_latent(self.layout, self.sampler.rng, side, side, batch)).to(self.device)
        with self.autocast():  # discriminator: one forward over real and fake together
            fake = self.G_train(z)
            logits = self.D_train(self.aug(torch.cat([real, fake.detach()])))
            loss_d = d_hinge(logits[:batch].float(), logits[batch:].float())
        self.opt_d.zero_grad()
        loss_d.backward()
        self.opt_d.step()
        r1 = self.lazy_r1(real)
        with self.autocast():  # generator: through the bare D, so only G's gradients are synchronised
            loss_g = g_hinge(self.D(self.aug(fake)).float())
        if opts.patch_loss > 0:  # float32: sorting bf16 projections would lose the distribution
            loss_g = loss_g + opts.patch_loss * sliced_patch_loss(fake.float(), real, self.aug_gen,
                                                                  space=opts.patch_space)
        self.opt_g.zero_grad()
        loss_g.backward()
        self.opt_g.step()
        pin_constant_channels(self.G, self.constants)
        with torch.no_grad():
            for pe, pg in zip(self.ema.parameters(), self.G.parameters()):
                pe.lerp_(pg.detach(), 1.0 - opts.ema_decay)
        self.step += 1
        self.seconds += time.perf_counter() - t0
        record = {"step": self.step, "loss_d": round(loss_d.item(), 5), "loss_g": round(loss_g.item(), 5),
                  "seconds": round(self.seconds, 3)}
        if r1 is not None:
            record["r1"] = round(r1, 5)
        return record

    def lazy_r1(self, real) -> float | None:
        """R1 on reals every r1_every steps, as its own D step (gradients averaged by hand across ranks)."""
        opts = self.opts
        if opts.r1_gamma <= 0 or self.step % opts.r1_every:
            return None
        self.opt_d.zero_grad()
        r1 = r1_penalty(self.D, self.aug(real).float())
        (r1 * opts.r1_gamma * 0.5 * opts.r1_every).backward()
        if self.world > 1:
            all_reduce_grads(self.D, self.world)
        self.opt_d.step()
        return r1.item()

    def periodic_work(self, run: Path, files: dict, final: bool) -> Path | None:
        """Rank 0 after each step: sample grid, metrics, checkpoint when due. Returns a saved path."""
        opts, step = self.opts, self.step
        if step % opts.sample_every == 0 or final:
            raw = generate_batch(self.ema, self.layout, opts.crop, 4, opts.seed, self.device)
            write_png(run / "samples" / f"step-{step:08d}.png", sample_grid(raw, self.data.normal_strength))
        if (opts.eval_every and step % opts.eval_every == 0) or final:
            metrics = measure(self.ema, self.layout, self.data, opts.crop, opts.eval_count, opts.seed, self.device)
            files["metrics"].write(json.dumps({"step": step, **metrics}) + "\n")
            files["metrics"].flush()
            if metrics["diversity_ratio"] < COLLAPSE_DIVERSITY:
                tqdm.write(f"warning: step {step}: diversity ratio {metrics['diversity_ratio']:.2f} "
                           f"< {COLLAPSE_DIVERSITY}: the generator may have collapsed to one texture",
                           file=sys.stderr)
        if step % opts.ckpt_every == 0 or final:
            files["log"].flush()
            return save_checkpoint(run, self.snapshot(), step, opts.keep)
        return None
