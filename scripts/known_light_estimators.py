"""How much relief can a photo give when its light is KNOWN? Two estimators fitted on the CC0 sets,
cross-validated by set (3 folds: every third set held out, as scripts/train_translators.sh), beside
a flat normal. Both are told the true light of every photo, so the light-estimation step that
sinks the translator is out of the way: this bounds what a cheap learned method can do on these sets.

* Wiener: a linear, shift-invariant filter from log-colour to the normal's x and y, written in the
  light's frame (components along and across the light; frequencies binned by radius and by angle
  to the light) and fitted by least squares per bin. Optionally each set's pixels are weighted by
  1 / its normal variance, so flat sets count as much as rough ones.
* MLP: a per-pixel net (two hidden layers of 96) on multi-scale features in the light's frame
  (band-pass log-luminance, its first and second derivatives along and across the light, chroma),
  trained on mean angular error; half of its training photos carry another set's albedo over the
  set's relief, so that colour patterns alone cannot pass for relief.

    python -m scripts.known_light_estimators ../shared/data/cc0 --side 512 --out benchmarks/results/known_light.txt
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import math
import time

import numpy as np
import torch

from trainer.pbr_sets import load_pbr_sets
from trainer.shading import light_directions, shade
from trainer.translator_eval import angular_error

TRAIN_AZIMUTHS = tuple(5.0 + 45.0 * k for k in range(8))
TRAIN_ELEVATIONS = (30.0, 45.0, 65.0)
TEST_AZIMUTHS = (20.0, 110.0, 200.0, 290.0)  # trainer.shading.fixed_lights: 45 degrees up, ambient 0.3
RADIAL_BINS, ANGLE_BINS = 40, 32
SCALES = (1, 2, 4, 8, 16, 32)
FOLDS = 3


def render(pbr, azimuth: float, elevation: float = 45.0, ambient: float = 0.3) -> np.ndarray:
    def t(a):
        a = a if a.ndim == 3 else a[..., None]
        return torch.from_numpy(np.ascontiguousarray(a.transpose(2, 0, 1)))[None].float()

    light = light_directions(torch.tensor([math.radians(azimuth)]), torch.tensor([math.radians(elevation)]))
    img = shade(t(pbr.albedo), t(pbr.normal), t(pbr.ao), t(pbr.roughness), light, torch.ones(1, 3),
                torch.tensor([ambient]), torch.tensor([1.0]))
    return img[0].permute(1, 2, 0).numpy().astype(np.float64)


def light_frame(normal: np.ndarray, az: float) -> np.ndarray:
    """Normal x, y -> components along and across the light's azimuth (radians)."""
    c, s = math.cos(az), math.sin(az)
    return np.stack([normal[..., 0] * c + normal[..., 1] * s, -normal[..., 0] * s + normal[..., 1] * c], -1)


def from_light_frame(p: np.ndarray, az: float) -> np.ndarray:
    """Predicted (along, across) -> unit normals (H, W, 3)."""
    c, s = math.cos(az), math.sin(az)
    x, y = p[..., 0] * c - p[..., 1] * s, p[..., 0] * s + p[..., 1] * c
    v = np.stack([x, y, np.sqrt(np.clip(1 - x * x - y * y, 0.05, None))], -1)
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def log_colour(photo: np.ndarray) -> np.ndarray:
    log = np.log(np.clip(photo, 1e-4, 1.0) ** 2.2 + 1e-3)
    return log - log.mean((0, 1))


def frequencies(h: int, w: int, az: float):
    """(kx, ky up, radius, angle to the light) of every FFT bin."""
    ky = -np.fft.fftfreq(h)[:, None] * np.ones((1, w))
    kx = np.fft.fftfreq(w)[None, :] * np.ones((h, 1))
    return kx, ky, np.hypot(kx, ky), (np.arctan2(ky, kx) - az) % (2 * np.pi)


class Wiener:
    """Least-squares normal(k) = G(bin) @ log_colour(k), per (radius, angle-to-light) bin."""

    def __init__(self):
        n = RADIAL_BINS * ANGLE_BINS
        self.sxx = np.zeros((n, 3, 3), complex)
        self.syx = np.zeros((n, 2, 3), complex)

    @staticmethod
    def bins(h: int, w: int, az: float) -> np.ndarray:
        _, _, r, phi = frequencies(h, w, az)
        rb = np.clip(((np.log2(np.maximum(r, 1e-9)) + 10) / 9 * RADIAL_BINS).astype(int), 0, RADIAL_BINS - 1)
        return (rb * ANGLE_BINS + (phi / (2 * np.pi) * ANGLE_BINS).astype(int) % ANGLE_BINS).ravel()

    def add(self, photo: np.ndarray, normal: np.ndarray, az: float, weight: float) -> None:
        b = self.bins(*photo.shape[:2], az)
        x = np.fft.fft2(log_colour(photo), axes=(0, 1)).reshape(-1, 3) * math.sqrt(weight)
        y = np.fft.fft2(light_frame(normal, az), axes=(0, 1)).reshape(-1, 2) * math.sqrt(weight)
        n = len(self.sxx)

        def summed(v):
            return np.bincount(b, v.real, n) + 1j * np.bincount(b, v.imag, n)

        for j in range(3):
            for i in range(3):
                self.sxx[:, i, j] += summed(x[:, i] * x[:, j].conj())
            for o in range(2):
                self.syx[:, o, j] += summed(y[:, o] * x[:, j].conj())

    def solve(self, ridge: float) -> np.ndarray:
        """The filter G, (bins, 2, 3), with a ridge in proportion to each bin's power."""
        scale = np.trace(self.sxx, axis1=1, axis2=2).real[:, None, None] / 3
        return self.syx @ np.linalg.inv(self.sxx + (ridge * scale + 1e-12) * np.eye(3))

    @classmethod
    def predict(cls, photo: np.ndarray, az: float, g: np.ndarray) -> np.ndarray:
        g = g[cls.bins(*photo.shape[:2], az)].reshape(photo.shape[:2] + (2, 3))
        y = np.einsum("hwoc,hwc->hwo", g, np.fft.fft2(log_colour(photo), axes=(0, 1)))
        return from_light_frame(np.fft.ifft2(y, axes=(0, 1)).real, az)


def features(photo: np.ndarray, az: float) -> np.ndarray:
    """(H, W, 9 * len(SCALES) + 1) per-pixel features in the light's frame."""
    log = log_colour(photo)
    lum = log @ np.array([0.2126, 0.7152, 0.0722])
    flum, fchroma = np.fft.fft2(lum), np.fft.fft2(log[..., [0, 2]] - lum[..., None], axes=(0, 1))
    kx, ky, r, _ = frequencies(*lum.shape, az)
    kp = 2j * np.pi * (kx * math.cos(az) + ky * math.sin(az))
    kq = 2j * np.pi * (-kx * math.sin(az) + ky * math.cos(az))
    out, finer = [], lum
    for s in SCALES:
        g = flum * np.exp(-2 * (np.pi * s * r) ** 2)
        low = np.fft.ifft2(g).real
        d = [np.fft.ifft2(g * k).real * s ** len(k_) for k, k_ in
             ((kp, "p"), (kq, "q"), (kp * kp, "pp"), (kq * kq, "qq"), (kp * kq, "pq"))]
        chroma = np.fft.ifft2(fchroma * np.exp(-2 * (np.pi * s * r) ** 2)[..., None], axes=(0, 1)).real
        out += [finer - low, *d, np.hypot(d[0], d[1]), chroma[..., 0], chroma[..., 1]]
        finer = low
    out.append(finer)
    return np.stack(out, -1).astype(np.float32)


def angular_loss(p: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    def unit(v, floor):
        return torch.cat([v, torch.sqrt(torch.clamp(1 - (v * v).sum(1, keepdim=True), floor))], 1)

    pn = unit(p, 0.05)
    return torch.acos(torch.clamp((pn / pn.norm(dim=1, keepdim=True) * unit(y, 0.0)).sum(1), -0.99999, 0.99999)).mean()


def fit_mlp(x: np.ndarray, y: np.ndarray, steps: int = 3000, seed: int = 0):
    torch.manual_seed(seed)
    x, y = torch.from_numpy(x), torch.from_numpy(y.astype(np.float32))
    mu, sd = x.mean(0), x.std(0) + 1e-6
    net = torch.nn.Sequential(torch.nn.Linear(x.shape[1], 96), torch.nn.GELU(), torch.nn.Linear(96, 96),
                              torch.nn.GELU(), torch.nn.Linear(96, 2))
    torch.nn.init.zeros_(net[-1].weight)
    torch.nn.init.zeros_(net[-1].bias)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    xn = (x - mu) / sd
    for _ in range(steps):
        i = torch.randint(0, len(x), (4096,))
        loss = angular_loss(net(xn[i]), y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()

    def predict(photo: np.ndarray, az: float) -> np.ndarray:
        f = features(photo, az)
        with torch.no_grad():
            p = net((torch.from_numpy(f.reshape(-1, f.shape[-1])) - mu) / sd).numpy()
        return from_light_frame(p.reshape(f.shape[:2] + (2,)), az)

    return predict


def training_photos(sets, index: int, rng, swap: bool):
    """(photo, azimuth) renders of sets[index] under the training lights, ambient drawn at random;
    with swap, about half carry the albedo of a set in the same fold group (so never a held-out
    set's) over the set's own relief."""
    s = sets[index]
    donors = [j for j in range(len(sets)) if j % FOLDS == index % FOLDS]
    for az in TRAIN_AZIMUTHS:
        for el in TRAIN_ELEVATIONS:
            src = s
            if swap and rng.random() < 0.5:
                a = sets[int(rng.choice(donors))].albedo
                tiled = np.tile(a, (-(-s.albedo.shape[0] // a.shape[0]), -(-s.albedo.shape[1] // a.shape[1]), 1))
                src = dataclasses.replace(s, albedo=tiled[:s.albedo.shape[0], :s.albedo.shape[1]].copy())
            yield render(src, az, el, float(rng.uniform(0.15, 0.5))), az


def mlp_samples(sets, rng, per_photo: int = 3000):
    out = []
    for i, s in enumerate(sets):
        xs, ys = [], []
        for photo, az in training_photos(sets, i, rng, swap=True):
            f = features(photo, math.radians(az)).reshape(-1, len(SCALES) * 9 + 1)
            idx = rng.integers(0, len(f), per_photo)
            xs.append(f[idx])
            ys.append(light_frame(s.normal, math.radians(az)).reshape(-1, 2)[idx])
        out.append((np.concatenate(xs), np.concatenate(ys)))
    return out


def wiener_fits(sets, fold: int, rng) -> dict:
    plain, balanced = Wiener(), Wiener()
    for i, s in enumerate(sets):
        if i % FOLDS == fold:
            continue
        var = float((s.normal[..., :2] ** 2).sum(-1).mean())
        for photo, az in training_photos(sets, i, rng, swap=False):
            plain.add(photo, s.normal, math.radians(az), 1.0 / s.normal.size)
            balanced.add(photo, s.normal, math.radians(az), 1.0 / s.normal.size / (var + 1e-3))
    return {f"{name}, ridge {ridge:g}": functools.partial(Wiener.predict, g=w.solve(ridge))
            for name, w in (("Wiener", plain), ("Wiener, sets balanced", balanced)) for ridge in (0.1, 1.0)}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("data")
    p.add_argument("--side", type=int, default=512, help="sets shrunk to at most this side (the translator table: 1024)")
    p.add_argument("--out", default="", help="also write the table here")
    a = p.parse_args(argv)
    t0, rng = time.time(), np.random.default_rng(0)
    torch.set_num_threads(2)
    sets = load_pbr_sets(a.data, max_side=a.side)
    samples = mlp_samples(sets, rng)
    errors: dict[str, dict[str, float]] = {}
    for fold in range(FOLDS):
        held = [i for i in range(len(sets)) if i % FOLDS == fold]
        train = [i for i in range(len(sets)) if i % FOLDS != fold]
        predictors = wiener_fits(sets, fold, rng)
        predictors["MLP, albedo swapped"] = fit_mlp(np.concatenate([samples[i][0] for i in train]),
                                                     np.concatenate([samples[i][1] for i in train]), seed=fold)
        for i in held:
            s = sets[i]
            photos = [(render(s, az), math.radians(az)) for az in TEST_AZIMUTHS]
            row = {"flat": angular_error(np.broadcast_to(np.array([0.0, 0.0, 1.0]), s.normal.shape), s.normal)}
            for name, predict in predictors.items():
                row[name] = float(np.mean([angular_error(predict(ph, az), s.normal) for ph, az in photos]))
            errors[s.name] = row
            print(s.name, {k: round(v, 2) for k, v in row.items()}, flush=True)
    text = table(errors, a.side, time.time() - t0)
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)
    return 0


def table(errors: dict[str, dict[str, float]], side: int, seconds: float) -> str:
    cols = list(next(iter(errors.values())))
    lines = [f"Normal from a photo with its light KNOWN, mean angular error (degrees) on sets held out "
             f"({FOLDS} folds by set), sets at <= {side} px, the four measurement lights. {seconds / 60:.0f} min, 2-core CPU.",
             "", "set".ljust(22) + "".join(c[:24].rjust(26) for c in cols)]
    for name, row in errors.items():
        lines.append(name.ljust(22) + "".join(f"{row[c]:26.2f}" for c in cols))
    lines.append("mean of %d".ljust(22) % len(errors) + "".join(f"{np.mean([r[c] for r in errors.values()]):26.2f}" for c in cols))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
