"""Pack the translator's training sets small enough to travel to a GPU machine (scripts/gpu_window.sh).

    python -m scripts.pack_gpu_data out/gpu_data                       # the CC0 sets, halved (<= 20 MiB)
    python -m scripts.pack_gpu_data out/gpu_data --toy                 # six small procedural brick sets

Every set is read as the trainer reads it (trainer.pbr_sets: roughness from ARM or gloss maps,
height integrated from the normal where a set has none), shrunk to half the trainer's longest side
(1024 -> 512) and written as JPEG files the trainer reads back (<set>/<set>_albedo.jpg, _normal,
_height, _roughness, _ao). The packed folder is data, not source: write it under out/ (ignored by
git) or outside the repository.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
CC0 = ROOT.parent / "shared" / "data" / "cc0"
LIMIT_MIB = 20.0
QUALITY = 92  # JPEG quality: 18 sets at 512 px come to about 10 MiB


def _save(array: np.ndarray, path: Path) -> None:
    from PIL import Image

    a = np.clip(np.round(np.asarray(array, np.float32) * 255.0), 0, 255).astype(np.uint8)
    Image.fromarray(a).save(path, quality=QUALITY)  # (H, W, 3): RGB, (H, W): greyscale


def write_set(pbr, out: Path) -> None:
    """One PbrSet as five JPEG files under out/<name>/."""
    folder = out / pbr.name
    folder.mkdir(parents=True, exist_ok=True)
    maps = {"albedo": pbr.albedo, "normal": pbr.normal * 0.5 + 0.5, "height": pbr.height,
            "roughness": pbr.roughness, "ao": pbr.ao}
    for name, array in maps.items():
        _save(array, folder / f"{pbr.name}_{name}.jpg")


def pack(data: Path, out: Path, max_side: int) -> list[str]:
    from trainer.pbr_sets import find_pbr_sets, load_pbr_set

    found = find_pbr_sets(data)
    if not found:
        raise SystemExit(f"no PBR sets under '{data}'")
    for name in sorted(found):
        write_set(load_pbr_set(name, found[name], max_side), out)
    return sorted(found)


def pack_toy(out: Path, count: int = 6, size: int = 128) -> list[str]:
    """Small procedural brick sets (as trainer data --preset bricks makes them): the --toy window."""
    from trainer.__main__ import main as trainer_main

    if trainer_main(["data", "--preset", "bricks", "--count", str(count), "--size", str(size),
                     "--out", str(out)]) != 0:
        raise SystemExit("could not make the procedural sets")
    return [f"bricks_{i:03d}" for i in range(count)]


def folder_mib(out: Path) -> float:
    return sum(p.stat().st_size for p in out.rglob("*") if p.is_file()) / 2 ** 20


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path, help="the packed folder (created; under out/ or outside the repository)")
    p.add_argument("--data", type=Path, default=CC0, help="folder of PBR sets (default: the shared CC0 sets)")
    p.add_argument("--max-side", type=int, default=512, help="longest side of a packed set (the trainer's 1024 halved)")
    p.add_argument("--toy", action="store_true", help="six small procedural sets instead (for gpu_window.sh --toy)")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    names = pack_toy(a.out) if a.toy else pack(a.data, a.out, a.max_side)
    size = folder_mib(a.out)
    print(f"packed {len(names)} sets into {a.out}: {size:.1f} MiB")
    if size > LIMIT_MIB:
        print(f"over {LIMIT_MIB:g} MiB: pack with a smaller --max-side", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
