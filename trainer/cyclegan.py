"""Material translation with CycleGAN (unpaired): one material's maps -> another's, e.g. clean -> rusty metal.

    python -m trainer train --kind cyclegan --data-a DIR [DIR ...] --data-b DIR [DIR ...] --out RUN \
        [--name-a "clean metal"] [--name-b "rusty metal"] [--max-minutes 12] [--credit TEXT ...]

Each side is one or more folders of texture sets, loaded as the generator trainer loads them
(trainer.folder: albedo, height, roughness stacks), both shrunk to one working scale
(trainer.data.working_scale) so the two materials are compared at the same size. Two small periodic
translators (engine.nets.material_translator: A -> B and B -> A, residual, starting as the identity), two
patch discriminators, least-squares GAN losses, a cycle-consistency L1 (A -> B -> A stays A) and an
identity L1 (B -> B stays B). The bottom quarter of every set is held out for the metrics. The run
folder gets options.json, log.jsonl, checkpoints (atomic; Ctrl-C saves the step reached; rerunning
resumes) and both directions as model files: a_to_b.safetensors and b_to_a.safetensors (kind
translator, direction maps_to_maps), each carrying its target material's exemplar (the first target set's training region at the working
scale) for the detail step of engine.material_translation. A file exported without one gets it afterwards:

    python -m trainer.cyclegan carry-exemplar MODEL.safetensors --data DIR [--out FILE] [--detail on|off]
"""
from __future__ import annotations

import argparse
import json
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from blender_texgan.core.arch.material_translator import PERIODIC_RESIDUAL_UNET_V1, MaterialTranslatorConfig
from blender_texgan.core.maps import PBR_MAPS
from blender_texgan.core.modelfile import EXEMPLAR_MIN_SIDE, read_model_file, write_model_file
from blender_texgan.core.synthesis.lattice import axis_periods
from blender_texgan.engine.devices import pick_device
from blender_texgan.engine.nets.material_translator import build_material_translator

from .adam import Adam
from .checkpoints import (
    CYCLEGAN_KEYS,
    check_run_kind,
    load_newest_good,
    save_checkpoint,
    truncate_logs,
)
from .cyclegan_options import CycleGanOptions
from .data import HELDOUT_FRACTION, CropSampler, flatten_height, shrink, working_scale
from .discriminator import PatchDiscriminator
from .folder import DataError, load_folder
from .loop import run_steps
from .metrics import holdout_split, sliced_wasserstein, swd_ratio
from .options import check_run_folder
from .procedural import NORMAL_STRENGTH

# ---------------------------------------------------------------- data

@dataclass
class Domain:
    """One material: training regions and held-out regions as (5, H, W) stacks at the working scale."""
    name: str
    sets: list[str]
    train: list[np.ndarray]
    heldout: list[np.ndarray]
    normal_strength: float       # relief of the re-derived normal at the working scale


def _words(folders: list[str]) -> str:
    return " + ".join(Path(f).name for f in folders)


def load_sets(folders: list[str]) -> tuple[list[np.ndarray], list[str], float]:
    """The texture sets of one material's folders -> (stacks, set names, the median normal strength
    of those that state one, else NORMAL_STRENGTH)."""
    stacks, names, strengths = [], [], []
    for folder in folders:
        data = load_folder(folder)
        stacks += data.stacks
        names += data.names
        strengths += [s for s in data.normal_strengths if s]
    return stacks, names, float(np.median(strengths)) if strengths else NORMAL_STRENGTH


def load_domains(opts: CycleGanOptions) -> tuple[Domain, Domain, int]:
    """Both materials at one working scale -> (A, B, scale). DataError (one line) for a missing
    folder or one without a usable texture set."""
    loaded = {}
    for side, folders in (("a", opts.data_a), ("b", opts.data_b)):
        if not folders:
            raise DataError(f"--data-{side} needs at least one folder.")
        loaded[side] = load_sets(folders)
    _, scale = working_scale(loaded["a"][0] + loaded["b"][0], opts.downsample, opts.crop)
    domains = []
    for side, folders, words in (("a", opts.data_a, opts.name_a), ("b", opts.data_b, opts.name_b)):
        stacks, names, strength = loaded[side]
        train, held = [], []
        for stack in (shrink(s, scale) for s in stacks):
            region, rest = holdout_split(stack, HELDOUT_FRACTION)
            if min(region.shape[1:]) < opts.crop or min(rest.shape[1:]) < 16:
                raise DataError(f"A texture of --data-{side} is too small: {stack.shape[2]}x{stack.shape[1]} px "
                                f"at the working scale 1/{scale}, under the crop of {opts.crop} px "
                                "(held-out quarter aside); use a smaller --crop or --downsample.")
            train.append(np.ascontiguousarray(region))
            held.append(np.ascontiguousarray(rest))
        domains.append(Domain(words or _words(folders), names, train, held, strength / scale))
    return domains[0], domains[1], scale


def random_turn(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """One of the 8 symmetries of the square per batch (the maps hold no direction: height is scalar)."""
    k = int(torch.randint(0, 8, (1,), generator=generator))
    if k & 4:
        x = x.transpose(-1, -2)
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    return x


# ---------------------------------------------------------------- training

def _l1(a: torch.Tensor, b: torch.Tensor, margin: int) -> torch.Tensor:
    """L1 away from the crop's border: a crop is not periodic, so its wrap-around edge is not real content."""
    if margin:
        a, b = a[..., margin:-margin, margin:-margin], b[..., margin:-margin, margin:-margin]
    return (a - b).abs().mean()


def _lsgan(logits: torch.Tensor, target: float) -> torch.Tensor:
    return (logits - target).pow(2).mean()


class CycleGanSession:
    """One run: both materials, both translators and discriminators, resumed from the newest checkpoint."""

    NETS = ("G_ab", "G_ba", "D_a", "D_b", "opt_g", "opt_d")

    def __init__(self, opts: CycleGanOptions, log=print):
        self.opts, self.log, self.run = opts, log, Path(opts.out)
        check_run_folder(self.run)
        check_run_kind(self.run, "cyclegan")  # before anything in the folder is touched
        if opts.threads:
            torch.set_num_threads(opts.threads)
        self.a, self.b, self.scale = load_domains(opts)
        self.device = pick_device(opts.device)
        torch.manual_seed(opts.seed)
        self.sample_a = CropSampler(self.a.train, opts.crop, seed=[opts.seed, 1], wrap=[False] * len(self.a.train))
        self.sample_b = CropSampler(self.b.train, opts.crop, seed=[opts.seed, 2], wrap=[False] * len(self.b.train))
        self.gen = torch.Generator().manual_seed(opts.seed)
        self.cfg = MaterialTranslatorConfig(tuple(opts.channels))
        self.G_ab = build_material_translator(self.cfg).to(self.device)
        self.G_ba = build_material_translator(self.cfg).to(self.device)
        self.D_a = PatchDiscriminator(5, 32, 3).to(self.device)
        self.D_b = PatchDiscriminator(5, 32, 3).to(self.device)
        g_params = [*self.G_ab.parameters(), *self.G_ba.parameters()]
        d_params = [*self.D_a.parameters(), *self.D_b.parameters()]
        self.opt_g = Adam(g_params, lr=opts.lr, betas=(0.5, 0.999))
        self.opt_d = Adam(d_params, lr=opts.lr, betas=(0.5, 0.999))
        self.step, self.seconds = 0, 0.0
        self.resume()
        self.run.mkdir(parents=True, exist_ok=True)
        (self.run / "options.json").write_text(json.dumps({"kind": "cyclegan", **asdict(opts)}, indent=2))
        truncate_logs(self.run, self.step)  # a killed run replays the steps after its checkpoint

    def resume(self) -> None:
        """Load the run's newest readable checkpoint, if any; refuse one whose nets differ."""
        found = load_newest_good(self.run, quarantine=True, keys=CYCLEGAN_KEYS) if self.run.is_dir() else None
        if found is None:
            return
        state = found[1]
        try:
            for key in self.NETS:
                getattr(self, key).load_state_dict(state[key])
        except (RuntimeError, ValueError):
            raise ValueError(f"run '{self.run}' holds nets of another shape than --channels "
                             f"{','.join(map(str, self.opts.channels))} builds: rerun with the run's options "
                             "(see its options.json) or use a new run folder") from None
        self.step, self.seconds = int(state["step"]), float(state["seconds"])
        self.sample_a.set_state(state["sample_a"]), self.sample_b.set_state(state["sample_b"])
        self.log(f"resumed {self.run} at step {self.step}")

    def save(self) -> Path:
        state = {key: getattr(self, key).state_dict() for key in self.NETS}
        state.update(kind="cyclegan", step=self.step, seconds=self.seconds, sample_a=self.sample_a.get_state(),
                     sample_b=self.sample_b.get_state())
        return save_checkpoint(self.run, state, self.step, keep=2)

    def batch(self, sampler: CropSampler) -> torch.Tensor:
        return random_turn(torch.from_numpy(sampler.sample(self.opts.batch)), self.gen).to(self.device)

    def train_step(self) -> dict[str, float]:
        opts = self.opts
        a, b = self.batch(self.sample_a), self.batch(self.sample_b)
        margin = opts.crop // 8
        fake_b, fake_a = self.G_ab(a), self.G_ba(b)
        losses = {
            "gan": opts.gan * (_lsgan(self.D_b(fake_b), 1.0) + _lsgan(self.D_a(fake_a), 1.0)),
            "cycle": opts.cycle * (_l1(self.G_ba(fake_b), a, margin) + _l1(self.G_ab(fake_a), b, margin)),
        }
        if opts.identity > 0:
            losses["identity"] = opts.identity * (_l1(self.G_ab(b), b, margin) + _l1(self.G_ba(a), a, margin))
        self.opt_g.zero_grad()
        sum(losses.values()).backward()
        self.opt_g.step()
        d_loss = 0.5 * (_lsgan(self.D_b(b), 1.0) + _lsgan(self.D_b(fake_b.detach()), 0.0)
                        + _lsgan(self.D_a(a), 1.0) + _lsgan(self.D_a(fake_a.detach()), 0.0))
        self.opt_d.zero_grad()
        d_loss.backward()
        self.opt_d.step()
        self.step += 1
        return {**{k: v.item() for k, v in losses.items()}, "d": d_loss.item(),
                "change": (fake_b - a).abs().mean().item()}  # how far A -> B moves the maps

    def measure(self, count: int = 16) -> dict:
        return measure_translators(self.G_ab, self.G_ba, self.a, self.b, self.metric_crop(), count, self.opts.seed)

    def metric_crop(self) -> int:
        """The training crop, or less where a held-out region is smaller (a multiple of the net's)."""
        m = self.cfg.multiple
        side = min(min(s.shape[1:]) for s in self.a.heldout + self.b.heldout)
        return max(m, min(self.opts.crop, side // m * m))

    def export(self, metrics: dict) -> tuple[Path, Path]:
        training = {"sets_a": self.a.sets, "sets_b": self.b.sets, "steps": self.step,
                    "seconds": round(self.seconds, 1), "crop": self.opts.crop, "batch": self.opts.batch,
                    "working_scale": self.scale, "cycle": self.opts.cycle, "identity": self.opts.identity,
                    "gan": self.opts.gan, "device": str(self.device)}
        credits = self.opts.credits or [*self.a.sets, *self.b.sets]
        forward = export_material_translator(self.G_ab, self.cfg, self.run / "a_to_b.safetensors", self.a, self.b,
                                         self.scale, training, metrics["a_to_b"], credits, target_exemplar(self.b))
        backward = export_material_translator(self.G_ba, self.cfg, self.run / "b_to_a.safetensors", self.b, self.a,
                                          self.scale, training, metrics["b_to_a"], credits, target_exemplar(self.a))
        return forward, backward


def train_cyclegan(opts: CycleGanOptions, log=print) -> tuple[Path, Path]:
    """Train (or resume) a run; -> the two exported model files (A -> B, B -> A)."""
    session = CycleGanSession(opts, log)
    log(f"A: {session.a.name} ({', '.join(session.a.sets)}); B: {session.b.name} ({', '.join(session.b.sets)}); "
        f"working scale 1/{session.scale}")
    run_steps(session, opts.steps, opts.max_minutes, opts.log_every, opts.ckpt_every, log)
    metrics = session.measure()
    log(json.dumps(metrics))
    return session.export(metrics)


# ---------------------------------------------------------------- metrics and export

@torch.no_grad()
def _run(net, x: np.ndarray) -> np.ndarray:
    device = next(net.parameters()).device
    was = net.training
    net.eval()
    out = net(torch.from_numpy(np.ascontiguousarray(x, np.float32)).to(device)).cpu().numpy()
    net.train(was)
    return out


def _direction_metrics(forward, backward, src: Domain, dst: Domain, crop: int, count: int, seed: int) -> dict:
    x = CropSampler(src.heldout, crop, seed=[seed, 11], wrap=[False] * len(src.heldout)).sample(count)
    held = CropSampler(dst.heldout, crop, seed=[seed, 12], wrap=[False] * len(dst.heldout)).sample(count)
    ref = CropSampler(dst.train, crop, seed=[seed, 13], wrap=[False] * len(dst.train)).sample(count)
    y = _run(forward, x)
    back = _run(backward, y)
    m = forward.cfg.multiple
    tiled = np.tile(x[:4], (1, 1, 2, 2))  # the net reads every crop as periodic: its 2x2 tiling
    shifted = _run(forward, np.roll(x[:4], (3 * m, 5 * m), axis=(-2, -1)))
    albedo = lambda s: [round(float(v), 4) for v in s[:, :3].mean(axis=(0, 2, 3))]
    return {
        "round_trip_l1": round(float(np.abs(back - x).mean()), 5),
        "change_l1": round(float(np.abs(y - x).mean()), 5),
        "swd_source_to_target": round(sliced_wasserstein(x, held, seed=seed), 5),
        "swd_translated_to_target": round(sliced_wasserstein(y, held, seed=seed), 5),
        "swd_ratio": round(swd_ratio(y, held, ref, seed=seed), 4),
        "swd_ratio_before": round(swd_ratio(x, held, ref, seed=seed), 4),
        # periodicity: translating a 2x2 tiling gives the 2x2 tiling of the translation (no seam)...
        "tile_error": float(np.abs(_run(forward, tiled) - np.tile(y[:4], (1, 1, 2, 2))).max()),
        # ...and a wrap-around shift of the input shifts the output alike
        "shift_error": float(np.abs(shifted - np.roll(y[:4], (3 * m, 5 * m), axis=(-2, -1))).max()),
        "albedo_mean_source": albedo(x), "albedo_mean_translated": albedo(y), "albedo_mean_target": albedo(held),
        "crops": count, "crop": crop,
    }


def measure_translators(G_ab, G_ba, a: Domain, b: Domain, crop: int, count: int = 16, seed: int = 0) -> dict:
    """On held-out crops, for each direction: the round trip (X -> Y -> X vs X, L1), how much the
    translation changed (L1), SWD of translated vs real target (and of the untranslated source, as the
    yardstick), periodicity as the tile and shift errors (0 up to float rounding)."""
    return {"a_to_b": _direction_metrics(G_ab, G_ba, a, b, crop, count, seed),
            "b_to_a": _direction_metrics(G_ba, G_ab, b, a, crop, count, seed)}


def _slug(words: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", words.lower()).strip("_") or "material"


def target_exemplar(dst: Domain) -> tuple[np.ndarray, dict] | None:
    """The target material's exemplar for the detail step, and its manifest block: the first target
    set's training region at the working scale (the held-out quarter stays out, so measures against
    it stay fair), its height's slow trends flattened as the generator's are (patches copied from
    different places then sit at one level). None when there is no region as large as an exemplar must be."""
    if not dst.train or min(dst.train[0].shape[1:]) < EXEMPLAR_MIN_SIDE:
        return None
    exemplar = np.ascontiguousarray(np.moveaxis(flatten_height(dst.train[0]), 0, -1), np.float32)
    block = {"guide_scale": 1, "normal_strength": round(dst.normal_strength, 4), "periodic": False,
             "lattice": list(axis_periods(exemplar)), "set": dst.sets[0]}
    return exemplar, block


def export_material_translator(net, cfg: MaterialTranslatorConfig, path: Path, src: Domain, dst: Domain, scale: int,
                           training: dict, metrics: dict, credits: list[str],
                           exemplar: tuple[np.ndarray, dict] | None = None) -> Path:
    """One direction as a model file: kind translator, direction maps_to_maps, float16 weights, and
    (given one, see target_exemplar) the target's exemplar for the detail step."""
    tensors = {k: v.detach().half().cpu().numpy() for k, v in net.state_dict().items()}
    manifest = {
        "name": f"{_slug(src.name)}_to_{_slug(dst.name)}", "kind": "translator",
        "architecture": {"name": PERIODIC_RESIDUAL_UNET_V1, "config": cfg.to_dict()},
        "maps": [{"name": m.name, "channels": m.channels, "colorspace": m.colorspace} for m in PBR_MAPS],
        "translator": {"direction": "maps_to_maps", "from": src.name, "to": dst.name,
                       "input": "albedo, height, roughness (the normal is derived from the height)",
                       "normal_strength": round(dst.normal_strength, 4), "working_scale": scale},
        "training": training, "metrics": metrics, "credits": list(credits),
        "description": f"Material translation from {src.name} to {dst.name} (CycleGAN, unpaired); "
                       f"all maps move together and stay tileable.",
        "license": "CC0-1.0 training data (see the card's credits)",
    }
    if exemplar is None:
        return write_model_file(path, tensors, manifest)
    return write_model_file(path, tensors, dict(manifest, exemplar=exemplar[1]), exemplar=exemplar[0])


# ---------------------------------------------------------------- an exemplar for an exported translator

def carry_exemplar(path: Path, folders: list[str], out: Path | None = None, detail: bool | None = None) -> Path:
    """Give an exported maps_to_maps translator its target material's exemplar (target_exemplar of
    `folders` at the translator's working scale); the weights are kept bit for bit (float16 stays
    float16). detail: the translator's default for the detail step (None: leave it as it is)."""
    model = read_model_file(path)
    block = model.manifest.get("translator") or {}
    if block.get("direction") != "maps_to_maps":
        raise DataError(f"'{path}' is not a maps_to_maps translator.")
    scale = int(block.get("working_scale", 1))
    stacks, names, strength = load_sets(folders)
    region = holdout_split(shrink(stacks[0], scale), HELDOUT_FRACTION)[0]
    found = target_exemplar(Domain(block["to"], names, [np.ascontiguousarray(region)], [], strength / scale))
    if found is None:
        raise DataError(f"The set {names[0]} is too small for an exemplar at the working scale 1/{scale}.")
    half = {k: v.astype(np.float16) for k, v in model.tensors.items()}
    exact = all(np.array_equal(h.astype(np.float32), model.tensors[k]) for k, h in half.items())
    manifest = {k: v for k, v in model.manifest.items() if k not in ("format_version", "exemplar")}
    if detail is not None:
        manifest["translator"] = dict(block, detail=detail)
    return write_model_file(out or path, half if exact else model.tensors, dict(manifest, exemplar=found[1]),
                            exemplar=found[0])


def main(argv=None) -> None:
    p = argparse.ArgumentParser(prog="python -m trainer.cyclegan", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    carry = sub.add_parser("carry-exemplar", help="give an exported material translator its target's exemplar")
    carry.add_argument("model", type=Path, help="a maps_to_maps translator file")
    carry.add_argument("--data", nargs="+", required=True, help="folder(s) of the target material's texture sets")
    carry.add_argument("--out", type=Path, help="write here (default: rewrite the model file)")
    carry.add_argument("--detail", choices=("on", "off"), help="the translator's default for the detail step")
    args = p.parse_args(argv)
    detail = None if args.detail is None else args.detail == "on"
    print(carry_exemplar(args.model, args.data, args.out, detail))


if __name__ == "__main__":
    main()
