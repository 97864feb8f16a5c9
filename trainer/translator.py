"""Training translators: photo -> albedo, normal, height and roughness (pix2pix-style).

    python -m trainer train --kind translator --data ../shared/data/cc0 --out runs/photo2pbr \
        [--holdout Bricks102,Rock058] [--steps 4000] [--max-minutes 10]

Pairs are made on the fly: a crop of a PBR set, turned by a random square symmetry, rendered under
a random light (trainer.shading) is the input; the crop's own maps are the target. Losses: L1 on
albedo and roughness, 1 - cos on the normal, L1 on the mean-free height, plus a small adversarial
term from a patch discriminator that sees (photo, maps) pairs, as pix2pix does. Sets named in
--holdout are never seen (cross-validation by set). The run folder gets checkpoints (atomic;
Ctrl-C saves the step reached; rerunning resumes), log.jsonl, and with every checkpoint
model.safetensors. The step runs on the device from end to end (trainer.translator.Pairs) and
reads nothing back but at log time; benchmarks/translator_step.py says where its time goes.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from blender_texgan.core.arch.photo_translator import MIN_MEAN, PERIODIC_UNET_V1, WEDGE_DEG, UNetConfig
from blender_texgan.core.maps import PBR_MAPS
from blender_texgan.core.modelfile import write_model_file
from blender_texgan.engine.devices import pick_device
from blender_texgan.engine.nets.photo_translator import build_translator, finish_outputs

from .adam import Adam
from .checkpoints import (
    TRANSLATOR_KEYS,
    check_run_kind,
    load_newest_good,
    save_checkpoint,
    truncate_logs,
)
from .discriminator import PatchDiscriminator
from .folder import DataError
from .loop import run_steps
from .options import check_run_folder
from .pbr_sets import PbrSet, find_pbr_sets, load_pbr_sets
from .shading import light_directions, random_lights, shade
from .translator_options import BORDER, TranslatorOptions


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
    """Random (photo, target maps) pairs from a list of sets, made on the training device in a few
    batched ops: every set's maps sit in one flat tensor, a batch is one gather whose indices hold
    each sample's set, offset and square symmetry, and the lights are drawn on the device. Nothing
    waits for the device, so a GPU runs ahead of the Python that feeds it."""

    def __init__(self, sets: list[PbrSet], crop: int, device, seed: int):
        stacks = [_at_least(_stack(s, device), crop) for s in sets]
        self.sizes = torch.tensor([st.shape[2:] for st in stacks], device=device)  # (sets, 2): h, w
        self.bases = torch.tensor(np.cumsum([0] + [st.shape[2] * st.shape[3] for st in stacks])[:-1], device=device)
        self.flat = torch.cat([st[0].flatten(1) for st in stacks], dim=1)  # (9, all pixels)
        self.weights = self.sizes.double().prod(1).sqrt()
        self.crop, self.device = crop, device
        self.gen = torch.Generator(device=device).manual_seed(seed)
        self.grid = torch.arange(crop, device=device)

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """-> photo (n, 3, crop, crop), target maps (n, 8, crop, crop), light (n, 3)."""
        c, g = self.crop, self.gen
        which = torch.multinomial(self.weights, n, replacement=True, generator=g)
        h, w = self.sizes[which, 0], self.sizes[which, 1]
        y = (torch.rand(n, generator=g, device=self.device) * (h - c + 1)).long().clamp(max=h - c)
        x = (torch.rand(n, generator=g, device=self.device) * (w - c + 1)).long().clamp(max=w - c)
        k = torch.randint(0, 8, (n,), generator=g, device=self.device)
        rows, cols = symmetric_grid(self.grid, k)  # (n, crop, crop): where each output pixel reads
        index = self.bases[which, None, None] + (y[:, None, None] + rows) * w[:, None, None] + x[:, None, None] + cols
        maps = self.flat[:, index.flatten()].view(9, n, c, c).transpose(0, 1).contiguous()
        normal = turn_vectors(maps[:, 3:6], k)
        normal = normal * (normal * normal).sum(1, keepdim=True).clamp_min(1e-12).rsqrt()  # F.normalize, faster on a CPU
        maps = torch.cat([maps[:, :3], normal, maps[:, 6:]], dim=1)
        lights = random_lights(n, g, self.device, WEDGE_DEG)  # engine.photo.translate turns photos into it
        photo = shade(maps[:, :3], maps[:, 3:6], maps[:, 8:9], maps[:, 7:8], **lights)
        return photo, maps[:, :8], self.told(lights["light"])

    def told(self, light: torch.Tensor) -> torch.Tensor:
        """The light the net is told: the true one moved by up to half the spacing of the candidate
        lights it is given at inference (engine.photo.translate.estimate_light)."""
        n = light.shape[0]
        jitter = torch.rand(2, n, generator=self.gen, device=self.device) - 0.5
        az = torch.atan2(light[:, 1], light[:, 0]) + jitter[0] * math.radians(45)
        el = torch.asin(light[:, 2].clamp(-1, 1)) + jitter[1] * math.radians(30)
        return light_directions(az, el.clamp(math.radians(10), math.radians(89)))


def _at_least(stack: torch.Tensor, crop: int) -> torch.Tensor:
    """A set smaller than a crop is enlarged once (bilinear) until its shorter side is the crop."""
    h, w = stack.shape[2:]
    if min(h, w) >= crop:
        return stack
    scale = crop / min(h, w)
    size = (max(crop, round(h * scale)), max(crop, round(w * scale)))
    return F.interpolate(stack, size=size, mode="bilinear", align_corners=False)


def symmetric_grid(grid: torch.Tensor, k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per sample, the (row, column) of the crop that each output pixel reads under square symmetry
    k (0-7) of trainer.shading.turn: transposed (k & 4), then flipped left-right (k & 1), then
    top-bottom (k & 2). -> two (n, crop, crop) integer tensors."""
    last = grid.numel() - 1
    r, c = grid.view(1, -1, 1), grid.view(1, 1, -1)
    k = k.view(-1, 1, 1)
    r = torch.where(k & 2 > 0, last - r, r)
    c = torch.where(k & 1 > 0, last - c, c)
    t = k & 4 > 0
    return torch.where(t, c, r), torch.where(t, r, c)


def turn_vectors(normal: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """Turn (n, 3, H, W) normal vectors as trainer.shading.turn turns them under symmetry k: a
    transpose sends (x, y) to (-y, -x), a left-right flip negates x, a top-bottom flip negates y."""
    t, lr, tb = (k & 4 > 0), (k & 1 > 0), (k & 2 > 0)
    one = torch.ones_like(k, dtype=normal.dtype)
    sx, sy = torch.where(lr, -one, one), torch.where(tb, -one, one)
    # rows of the 2x2 matrix sending the crop's (x, y) to the turned (x, y)
    m = torch.stack([torch.stack([torch.where(t, 0 * one, sx), torch.where(t, -sx, 0 * one)], 1),
                     torch.stack([torch.where(t, -sy, 0 * one), torch.where(t, 0 * one, sy)], 1)], 1)
    xy = torch.einsum("nij,njhw->nihw", m, normal[:, :2])
    return torch.cat([xy, normal[:, 2:3]], dim=1)


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
    """Batched torch twin of core.arch.photo_translator.net_input: (B, 3, H, W) photo, (B, 3) light."""
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
        self.setup_device()
        # Adam's update in one fused kernel per optimiser (on a CPU: one op per kind for all weights)
        fast = {"fused": True} if self.device.type == "cuda" else {"foreach": True}
        self.opt_g = Adam(self.G.parameters(), lr=opts.lr, betas=(0.9, 0.999), **fast)
        self.opt_d = Adam(self.D.parameters(), lr=opts.lr, betas=(0.5, 0.999), **fast)
        self.g_params = list(self.G.parameters())
        self.step, self.seconds = 0, 0.0
        self.resume()
        self.saved_at = self.seconds
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "options.json").write_text(json.dumps({"kind": "translator", **asdict(opts)}, indent=2))
        truncate_logs(self.run, self.step)  # a killed run replays the steps after its checkpoint

    def setup_device(self) -> None:
        """On CUDA: bf16 autocast (the convolutions run several times faster; losses stay in float32),
        channels-last tensors (what the tensor cores read) and cuDNN's own choice of algorithm for
        the one crop size. torch.compile is left out until a GPU run shows it pays for its compile time."""
        cuda = self.device.type == "cuda"
        self.autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda)
        if cuda:
            torch.backends.cudnn.benchmark = True
            self.G.to(memory_format=torch.channels_last), self.D.to(memory_format=torch.channels_last)
        fmt = torch.channels_last if cuda else torch.contiguous_format
        self.layout = lambda x: x.contiguous(memory_format=fmt)

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
        """A checkpoint, and the model file exported from it (so a killed run leaves a usable model)."""
        self.saved_at = self.seconds
        self.export()
        return save_checkpoint(self.run, {"kind": "translator", "G": self.G.state_dict(), "D": self.D.state_dict(),
                                          "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
                                          "step": self.step, "seconds": self.seconds}, self.step, keep=2)

    def train_step(self) -> dict[str, torch.Tensor]:
        """One update of G, then of D. Nothing here reads a value back from the device: the losses
        come back as tensors, read when a log row is written (trainer.loop)."""
        opts = self.opts
        if opts.ckpt_minutes and self.seconds - self.saved_at >= 60 * opts.ckpt_minutes:
            self.save()  # between two whole steps: a resume continues exactly
        photo, target, light = self.pairs.batch(opts.batch)
        for group in (*self.opt_g.param_groups, *self.opt_d.param_groups):
            group["lr"] = learning_rate(opts, self.step, self.seconds)
        with self.autocast:
            pred = finish_outputs(self.G(self.layout(net_input(photo, light))).float())
        losses = translator_losses(pred, target, opts.normal_weight)
        if opts.gan > 0:
            with self.autocast:
                losses["gan"] = opts.gan * F.softplus(-self.D(self.layout(_d_input(photo, pred))).float()).mean()
        self.opt_g.zero_grad()
        # only G's gradients: the adversarial term's gradients on D's weights would be thrown away
        torch.autograd.backward(sum(losses.values()), inputs=self.g_params)
        self.opt_g.step()
        if opts.gan > 0:
            self.discriminator_step(photo, target, pred.detach())
        self.step += 1
        return {k: v.detach() for k, v in losses.items()}

    def discriminator_step(self, photo: torch.Tensor, target: torch.Tensor, fake: torch.Tensor) -> None:
        """Real and fake pairs in one pass of D (one power iteration of its spectral norms, half the launches)."""
        with self.autocast:
            logits = self.D(self.layout(torch.cat([_d_input(photo, target), _d_input(photo, fake)]))).float()
        real, fake_logits = logits.chunk(2)
        d_loss = F.softplus(-real).mean() + F.softplus(fake_logits).mean()
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()

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
