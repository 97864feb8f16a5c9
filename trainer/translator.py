"""Training translators: photo -> albedo, normal, height and roughness (pix2pix-style).

    python -m trainer train --kind translator --data ../shared/data/cc0 --out runs/photo2pbr \
        [--holdout Bricks102,Rock058] [--steps 4000] [--max-minutes 10]

Pairs are made on the fly: a crop of a PBR set, turned by a random square symmetry, rendered under
a random light (trainer.shading) is the input; the crop's own maps are the target. Losses: L1 on
albedo and roughness, 1 - cos on the normal, L1 on the mean-free height, plus a small adversarial
term from a patch discriminator that sees (photo, maps) pairs, as pix2pix does. Sets named in
--holdout are never seen (cross-validation by set). The run folder gets checkpoints (atomic;
Ctrl-C saves the step reached; rerunning resumes), log.jsonl, and at the end model.safetensors.
"""
from __future__ import annotations

import argparse
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from blender_texgan.core.maps import PBR_MAPS
from blender_texgan.core.modelfile import write_model_file
from blender_texgan.core.translator_arch import MIN_MEAN, PERIODIC_UNET_V1, WEDGE_DEG, UNetConfig
from blender_texgan.engine.devices import DEVICE_CHOICES, pick_device
from blender_texgan.engine.translator_net import build_translator, finish_outputs

from .checkpoints import (
    TRANSLATOR_KEYS,
    check_run_folder,
    check_run_kind,
    load_newest_good,
    save_checkpoint,
    truncate_logs,
)
from .discriminator import PatchDiscriminator
from .folder import DataError
from .loop import run_steps
from .options import add_flags, check_number, check_widths, int_list, option, str_list
from .pbr_sets import PbrSet, load_pbr_sets
from .shading import light_directions, random_lights, shade, turn

BORDER = 16  # crop pixels left out of the losses: a crop's wrap-around edge is not real content


@dataclass
class TranslatorOptions:
    data: str = option("", "folder of PBR sets (each with an albedo and a normal map)", required=True)
    out: str = option("", "run folder (created; rerunning resumes it)", required=True)
    holdout: list = option([], "comma-separated set names never trained on", type=str_list)
    steps: int = option(4000, "translator updates")
    max_minutes: float = option(0.0, "stop, saved and exported, after this many minutes of training (0: no limit)")
    batch: int = option(8, "crops per step")
    crop: int = option(256, "training crop side in pixels (a multiple of 2^(levels - 1), over 32)")
    max_side: int = option(1024, "sets are shrunk until their longer side is at most this")
    channels: list = option([32, 64, 96, 128, 160], "U-Net widths per level", type=int_list)
    lr: float = option(1e-3, "Adam learning rate (decays linearly to a tenth over the run)")
    gan: float = option(0.02, "weight of the adversarial term (0: none)")
    normal_weight: float = option(4.0, "weight of the normal's 1 - cos loss")
    ckpt_every: int = option(500, "steps between checkpoints")
    log_every: int = option(50, "steps between rows of losses in log.jsonl")
    seed: int = option(0, "seeds the crops, the lights and the initial weights")
    device: str = option("auto", "torch device", choices=DEVICE_CHOICES)


def parse_options(argv) -> TranslatorOptions:
    p = argparse.ArgumentParser(prog="python -m trainer train --kind translator", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    add_flags(p, TranslatorOptions, keep_defaults=True)
    opts = TranslatorOptions(**vars(p.parse_args(argv)))
    validate_translator(opts)
    return opts


def validate_translator(opts: TranslatorOptions) -> None:
    """Every option in range before any work (NaN and infinite weights never pass)."""
    for name in ("steps", "batch", "ckpt_every", "log_every", "max_side"):
        check_number(opts, name, 1)
    check_number(opts, "seed", 0)
    check_number(opts, "max_minutes", 0, note=" (0: no limit)")
    check_number(opts, "lr", 0, above=True)
    check_number(opts, "gan", 0, note=" (0: no adversarial term)")
    check_number(opts, "normal_weight", 0)
    check_widths(opts, "32,64,96,128,160")
    multiple = 2 ** (len(opts.channels) - 1)
    if opts.crop % multiple or opts.crop <= 2 * BORDER:
        raise ValueError(f"--crop must be a multiple of {multiple} and over {2 * BORDER}")


def training_sets(opts: TranslatorOptions) -> list[str]:
    """The names of the sets to train on: every PBR set under --data but those held out. One-line
    errors for a missing folder, a folder without PBR sets, and --holdout names that are no set."""
    root = Path(opts.data)
    if not root.is_dir():
        raise DataError(f"the data folder '{root}' does not exist or is not a folder")
    found = _all_names(root)
    if not found:
        raise DataError(f"no PBR sets in '{root}': the translator needs sets with an albedo and a normal map "
                        "(e.g. Bricks_Color.png + Bricks_NormalGL.png)")
    unknown = [name for name in opts.holdout if name not in found]
    if unknown:
        raise ValueError(f"--holdout names no set in '{root}': {', '.join(unknown)} "
                         f"(its sets: {', '.join(found[:8])}{' ...' if len(found) > 8 else ''})")
    names = [n for n in found if n not in opts.holdout]
    if not names:
        raise ValueError("--holdout holds out every set: none is left to train on")
    return names


def _stack(s: PbrSet, device) -> torch.Tensor:
    """(1, 9, H, W): albedo 0:3, normal 3:6, height, roughness, ao."""
    a = np.concatenate([s.albedo, s.normal, s.height[..., None], s.roughness[..., None], s.ao[..., None]], -1)
    return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float().to(device)


class Pairs:
    """Random (photo, target maps) pairs from a list of sets, on the training device."""

    def __init__(self, sets: list[PbrSet], crop: int, device, seed: int):
        self.stacks = [_stack(s, device) for s in sets]
        self.weights = np.array([np.sqrt(st.shape[2] * st.shape[3]) for st in self.stacks])
        self.weights /= self.weights.sum()
        self.crop, self.device = crop, device
        self.rng = np.random.default_rng(seed)
        self.gen = torch.Generator().manual_seed(seed)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> photo (n, 3, crop, crop), target maps (n, 8, crop, crop), light (n, 3)."""
        crops = []
        for i in self.rng.choice(len(self.stacks), size=n, p=self.weights):
            st = self.stacks[i]
            h, w = st.shape[2:]
            c = min(self.crop, h, w)
            y, x = self.rng.integers(0, h - c + 1), self.rng.integers(0, w - c + 1)
            part = st[:, :, y:y + c, x:x + c]
            if c < self.crop:
                part = F.interpolate(part, size=(self.crop, self.crop), mode="bilinear", align_corners=False)
            crops.append(turn(part, int(self.rng.integers(8))))
        maps = torch.cat(crops)
        maps = torch.cat([maps[:, :3], F.normalize(maps[:, 3:6], dim=1), maps[:, 6:]], dim=1)
        lights = random_lights(n, self.gen, self.device, WEDGE_DEG)  # engine.translate turns photos into it
        photo = shade(maps[:, :3], maps[:, 3:6], maps[:, 8:9], maps[:, 7:8], **lights)
        return photo, maps[:, :8], self.told(lights["light"])

    def told(self, light: torch.Tensor) -> torch.Tensor:
        """The light the net is told: the true one moved by up to half the spacing of the candidate
        lights it is given at inference (engine.translate.estimate_light)."""
        n = light.shape[0]
        az = torch.atan2(light[:, 1], light[:, 0]) + (torch.rand(n, generator=self.gen) - 0.5).to(light) * math.radians(45)
        el = torch.asin(light[:, 2].clamp(-1, 1)) + (torch.rand(n, generator=self.gen) - 0.5).to(light) * math.radians(30)
        return light_directions(az, el.clamp(math.radians(10), math.radians(89)))


def translator_losses(pred: torch.Tensor, target: torch.Tensor, normal_weight: float) -> dict[str, torch.Tensor]:
    b = BORDER
    p, t = pred[..., b:-b, b:-b], target[..., b:-b, b:-b]
    hp, ht = p[:, 6:7], t[:, 6:7]
    return {
        "albedo": (p[:, :3] - t[:, :3]).abs().mean(),
        "normal": normal_weight * (1.0 - (p[:, 3:6] * t[:, 3:6]).sum(1)).mean(),
        "height": ((hp - hp.mean((2, 3), keepdim=True)) - (ht - ht.mean((2, 3), keepdim=True))).abs().mean(),
        "roughness": (p[:, 7:8] - t[:, 7:8]).abs().mean(),
    }


def net_input(photo: torch.Tensor, light: torch.Tensor) -> torch.Tensor:
    """Batched torch twin of core.translator_arch.net_input: (B, 3, H, W) photo, (B, 3) light."""
    scale = 0.5 / photo.mean((1, 2, 3), keepdim=True).clamp(min=MIN_MEAN)
    planes = light.view(-1, 3, 1, 1).expand(-1, -1, *photo.shape[2:])
    return torch.cat([photo * scale - 0.5, planes], dim=1)


def _d_input(photo: torch.Tensor, maps: torch.Tensor) -> torch.Tensor:
    return torch.cat([photo, maps[:, :3], maps[:, 3:6] * 0.5 + 0.5, maps[:, 6:8]], dim=1)


class TranslatorSession:
    """One run: the sets, the nets and their optimisers, resumed from the run's newest checkpoint."""

    def __init__(self, opts: TranslatorOptions, log=print):
        self.opts, self.log, self.run = opts, log, Path(opts.out)
        self.names = training_sets(opts)
        check_run_folder(self.run)
        check_run_kind(self.run, "translator")  # before anything in the folder is touched
        self.device = pick_device(opts.device)
        torch.manual_seed(opts.seed)
        self.pairs = Pairs(load_pbr_sets(opts.data, self.names, opts.max_side), opts.crop, self.device, opts.seed)
        self.cfg = UNetConfig(tuple(opts.channels))
        self.G = build_translator(self.cfg).to(self.device)
        self.D = PatchDiscriminator(3 + 8, 32, 3).to(self.device)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=opts.lr, betas=(0.9, 0.999))
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=opts.lr, betas=(0.5, 0.999))
        # bf16 on CUDA: the convolutions run several times faster; losses stay in float32.
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.device.type == "cuda")
        self.step, self.seconds = 0, 0.0
        self.resume()
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "options.json").write_text(json.dumps({"kind": "translator", **asdict(opts)}, indent=2))
        truncate_logs(self.run, self.step)  # a killed run replays the steps after its checkpoint

    def resume(self) -> None:
        """Load the run's newest readable checkpoint, if any; refuse one whose nets differ."""
        found = load_newest_good(self.run, quarantine=True, keys=TRANSLATOR_KEYS) if self.run.is_dir() else None
        if found is None:
            return
        state = found[1]
        try:
            self.G.load_state_dict(state["G"]), self.D.load_state_dict(state["D"])
        except RuntimeError:
            raise ValueError(f"run '{self.run}' holds nets of another shape than --channels "
                             f"{','.join(map(str, self.opts.channels))} builds: rerun with the run's options "
                             "(see its options.json) or use a new run folder") from None
        self.opt_g.load_state_dict(state["opt_g"]), self.opt_d.load_state_dict(state["opt_d"])
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
        self.log(f"resumed {self.run} at step {self.step}")

    def save(self) -> Path:
        return save_checkpoint(self.run, {"kind": "translator", "G": self.G.state_dict(), "D": self.D.state_dict(),
                                          "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                                          "step": self.step, "seconds": self.seconds}, self.step, keep=2)

    def train_step(self) -> dict[str, torch.Tensor]:
        opts, D = self.opts, self.D
        photo, target, light = self.pairs.batch(opts.batch)
        for group in (*self.opt_g.param_groups, *self.opt_d.param_groups):
            group["lr"] = learning_rate(opts, self.step, self.seconds)
        with self.autocast:
            pred = finish_outputs(self.G(net_input(photo, light)).float())
        losses = translator_losses(pred, target, opts.normal_weight)
        if opts.gan > 0:
            with self.autocast:
                losses["gan"] = opts.gan * F.softplus(-D(_d_input(photo, pred)).float()).mean()
        self.opt_g.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        self.opt_g.step()
        if opts.gan > 0:
            with self.autocast:
                real, fake = D(_d_input(photo, target)).float(), D(_d_input(photo, pred.detach())).float()
            d_loss = F.softplus(-real).mean() + F.softplus(fake).mean()
            self.opt_d.zero_grad(set_to_none=True)
            d_loss.backward()
            self.opt_d.step()
        self.step += 1
        return losses

    def export(self) -> Path:
        return export_translator(self.G, self.cfg, self.run / "model.safetensors", name=self.run.name,
                                 training={"sets": self.names, "holdout": self.opts.holdout, "steps": self.step,
                                           "seconds": round(self.seconds, 1), "crop": self.opts.crop,
                                           "device": str(self.device)})


def train_translator(opts: TranslatorOptions, log=print) -> Path:
    """Train (or resume) a run; -> the exported model file."""
    session = TranslatorSession(opts, log)
    run_steps(session, opts.steps, opts.max_minutes, opts.log_every, opts.ckpt_every, log)
    return session.export()


def learning_rate(opts: TranslatorOptions, step: int, seconds: float) -> float:
    """Linear decay to a tenth over the run (its steps, or its time budget when that comes first)."""
    done = step / opts.steps
    if opts.max_minutes:
        done = max(done, seconds / (opts.max_minutes * 60))
    return opts.lr * (1.0 - 0.9 * min(done, 1.0))


def _all_names(root: str) -> list[str]:
    from .pbr_sets import find_pbr_sets

    return sorted(find_pbr_sets(root))


def export_translator(G, cfg: UNetConfig, path: Path, name: str, training: dict, metrics: dict | None = None,
                      description: str = "") -> Path:
    # float16 on disk (half the size; the loader reads it back as float32)
    tensors = {k: v.detach().half().cpu().numpy() for k, v in G.state_dict().items()}
    manifest = {
        "name": name, "kind": "translator",
        "architecture": {"name": PERIODIC_UNET_V1, "config": cfg.to_dict()},
        "maps": [{"name": m.name, "channels": m.channels, "colorspace": m.colorspace} for m in PBR_MAPS],
        "translator": {"direction": "photo_to_maps", "input": "photo (sRGB)"},
        "training": training, "metrics": metrics or {}, "description": description,
        "license": "CC0-1.0 training data (see the card's credits)",
    }
    return write_model_file(path, tensors, manifest)
