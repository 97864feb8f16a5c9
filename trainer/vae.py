"""The texture VAE's training: an encoder to a spatial latent and the generator as its decoder.

Loss per step: L1 reconstruction of real crops + kl_weight x KL(posterior || N(0, 1)) per latent
value + patch_loss x the sliced patch loss between *prior* samples (decoded from N(0, 1)) and real
crops. The last term is what makes a random seed decode to this texture rather than to the blurred
average a reconstruction loss alone gives; with a model's exemplar the refinement then brings the
photographic detail, as it does for the GAN. Runs through trainer.train's loop (checkpoints,
resume, samples, metrics) as a VAESession instead of a Session.
"""
from __future__ import annotations

import time
from dataclasses import asdict

import numpy as np
import torch

from blender_texgan.core.arch.generator import config_from_manifest
from blender_texgan.core.arch.vae import DECODER_PREFIX, ENCODER_PREFIX, VAEConfig
from blender_texgan.core.latent import make_latent
from blender_texgan.engine.nets.vae_encoder import PeriodicEncoder

from .adam import Adam
from .losses import sliced_patch_loss
from .metrics import swd_ratio
from .session import Session, pin_constant_channels


def kl_divergence(mean: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """KL(N(mean, exp(logvar)) || N(0, 1)), averaged over every latent value."""
    return 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar).mean()


class VAESession(Session):
    """A Session whose G is the VAE's decoder, with an encoder beside it (and no discriminator)."""

    def __init__(self, opts, rank: int, world: int, device):
        super().__init__(opts, rank, world, device)
        self.vae_cfg = VAEConfig(self.cfg)
        self.encoder = PeriodicEncoder(self.vae_cfg).to(device)
        self.ema_encoder = PeriodicEncoder(self.vae_cfg).to(device).eval().requires_grad_(False)
        self.ema_encoder.load_state_dict(self.encoder.state_dict())
        self.opt_g = Adam([*self.G.parameters(), *self.encoder.parameters()], lr=opts.lr_g,
                                      betas=(0.9, 0.99))
        self.D = self.opt_d = None

    def resume(self, state: dict) -> None:
        self.G.load_state_dict(state["G"]), self.ema.load_state_dict(state["ema"])
        self.encoder.load_state_dict(state["encoder"]), self.ema_encoder.load_state_dict(state["ema_encoder"])
        self.opt_g.load_state_dict(state["opt_g"])
        for group in self.opt_g.param_groups:
            group["lr"] = self.opts.lr_g
        self.step, self.seconds = state["step"], state["seconds"]
        self.sampler.set_state(state["sampler"])
        self.aug_gen.set_state(state["aug_rng"])

    def wrap_ddp(self) -> None:
        if self.world > 1:
            raise ValueError("VAE training runs in one process (no torchrun)")

    def snapshot(self) -> dict:
        opts = self.opts
        return {"kind": "vae", "G": self.G.state_dict(), "D": {}, "ema": self.ema.state_dict(),
                "encoder": self.encoder.state_dict(), "ema_encoder": self.ema_encoder.state_dict(),
                "opt_g": self.opt_g.state_dict(), "opt_d": {}, "step": self.step, "seconds": self.seconds,
                "config": self.cfg.to_dict(), "architecture": self.cfg.name, "latent": self.layout.to_dict(),
                "options": asdict(opts), "normal_strength": self.data.normal_strength,
                "data_description": self.data.description, "credits": self.data.credits,
                "sampler": self.sampler.get_state(), "aug_rng": self.aug_gen.get_state()}

    def train_step(self) -> dict:
        opts, batch = self.opts, self.opts.batch
        t0 = time.perf_counter()
        side = opts.crop // self.cfg.scale
        real = torch.from_numpy(self.sampler.sample(batch)).to(self.device)
        mean, logvar = self.encoder(real)
        noise = torch.randn(mean.shape, generator=self.aug_gen).to(self.device)
        recon = self.G(mean + (0.5 * logvar).exp() * noise)
        loss_rec = (recon - real).abs().mean()
        loss_kl = kl_divergence(mean, logvar)
        loss = loss_rec + opts.kl_weight * loss_kl
        record = {"step": self.step + 1, "rec": round(loss_rec.item(), 5), "kl": round(loss_kl.item(), 5)}
        if opts.patch_loss > 0:
            z = torch.from_numpy(make_latent(self.layout, self.sampler.rng, side, side, batch)).to(self.device)
            patch = sliced_patch_loss(self.G(z), real, self.aug_gen, space=opts.patch_space)
            loss = loss + opts.patch_loss * patch
            record["patch"] = round(patch.item(), 5)
        self.opt_g.zero_grad()
        loss.backward()
        self.opt_g.step()
        pin_constant_channels(self.G, self.constants)
        # EMA with a warm-up: a run of a few hundred CPU steps would otherwise export mostly its
        # initial weights (0.995 ** 300 = 0.22 of them), whose prior samples are off-colour noise.
        decay = min(opts.ema_decay, (1.0 + self.step) / (10.0 + self.step))
        with torch.no_grad():
            for ema, net in ((self.ema, self.G), (self.ema_encoder, self.encoder)):
                for pe, pn in zip(ema.parameters(), net.parameters()):
                    pe.lerp_(pn.detach(), 1.0 - decay)
        self.step += 1
        self.seconds += time.perf_counter() - t0
        return {**record, "loss": round(loss.item(), 5), "seconds": round(self.seconds, 3)}

    @staticmethod
    def postfix(record: dict) -> dict:
        return {"rec": f"{record['rec']:.3f}", "kl": f"{record['kl']:.3f}"}


def vae_tensors(state: dict) -> dict[str, np.ndarray]:
    """A VAE checkpoint's EMA weights under the model file's names."""
    out = {DECODER_PREFIX + k: v.detach().float().cpu().numpy() for k, v in state["ema"].items()}
    out.update({ENCODER_PREFIX + k: v.detach().float().cpu().numpy() for k, v in state["ema_encoder"].items()})
    return out


def measure_reconstruction(state: dict, data, crop: int, count: int, seed: int) -> dict:
    """Encode -> decode (posterior means) of held-out crops: L1 and the SWD ratio of the
    reconstructions against real crops (1 = as close as two sets of real crops)."""
    from blender_texgan.engine.nets.generator import build_generator

    cfg = VAEConfig(config_from_manifest({"name": state["architecture"], "config": state["config"]}))
    encoder, decoder = PeriodicEncoder(cfg).eval(), build_generator(cfg.decoder).eval()
    encoder.load_state_dict(state["ema_encoder"]), decoder.load_state_dict(state["ema"])
    heldout, reference = data.metric_crops(crop, count, seed)
    with torch.no_grad():
        recon = decoder(encoder(torch.from_numpy(heldout))[0]).numpy()
    return {"recon_l1": float(np.abs(recon - heldout).mean()),
            "recon_swd_ratio": swd_ratio(recon, heldout, reference, seed=seed)}
