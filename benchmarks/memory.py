"""Peak memory and time of the terminal's photo tools on large photos: seamless, photo2mat and
transform, each run as `python -m blender_texgan ...` in its own process (its peak resident memory
is its own: os.wait4's ru_maxrss).

    .venv/bin/python benchmarks/memory.py [--sizes 4096,8192] [--commands seamless,photo2mat,transform]
        > benchmarks/results/memory.txt

The photo is scikit-image's brick photo (benchmarks/data/skimage), enlarged to the size with a
little noise, as RGB PNG; transform makes the default model's material at the size and translates
it with the bundled clean_to_rusty_metal (engine auto: torch on the CPU here). The target
(issue 21): 8192 px transform and seamless under 3 GB peak.
"""
from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PHOTO = ROOT / "benchmarks" / "data" / "skimage" / "brick.png"


def make_photo(side: int, folder: Path) -> Path:
    """The brick photo enlarged to side x side RGB, with a little noise (a camera's grain)."""
    from PIL import Image

    path = folder / f"brick_{side}.png"
    if not path.exists():
        grey = Image.open(PHOTO).convert("L").resize((side, side), Image.BICUBIC)
        a = np.asarray(grey, np.float32)
        rng = np.random.default_rng(0)
        for start in range(0, side, 1024):  # in bands: the benchmark's own memory stays small
            a[start:start + 1024] += rng.normal(0, 4, a[start:start + 1024].shape).astype(np.float32)
        rgb = np.clip(a, 0, 255).astype(np.uint8)[..., None] * np.array([1.0, 0.93, 0.85], np.float32)
        Image.fromarray(rgb.astype(np.uint8)).save(path, compress_level=1)
    return path


def command(name: str, side: int, photo: Path, out: Path) -> list[str]:
    """The command line of `name` for a side x side photo (seamless, photo2mat: at their default
    --size 1024, and `seamless_up`: upscaled to the photo's side, real detail from the whole photo)
    or a side x side material (transform)."""
    size = min(side, 2048)
    return {
        "seamless": ["seamless", str(photo), "--out", str(out / "s.png")],
        "seamless_up": ["seamless", str(photo), "--size", str(size), "--upscale", str(side // size),
                        "--out", str(out / "s.png")],
        "photo2mat": ["photo2mat", str(photo), "--out", str(out / "m"), "--engine", "numpy"],
        "transform": ["transform", "--translator", "clean_to_rusty_metal", "--size", str(side),
                      "--out", str(out / "t")],
    }[name]


def run(args: list[str]) -> tuple[float, float, int, str]:
    """(peak GB, seconds, exit code, last stderr line) of python -m blender_texgan args."""
    started = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen([sys.executable, "-m", "blender_texgan", *args], cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        lines = err.read().decode(errors="replace").strip().splitlines()
    return usage.ru_maxrss / 1024 ** 2, time.perf_counter() - started, proc.returncode, (lines or [""])[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="4096,8192")
    parser.add_argument("--commands", default="seamless,photo2mat,transform")
    args = parser.parse_args()
    print(f"# benchmarks/memory.py on {date.today()}: {os.cpu_count()} CPU cores, {platform.machine()}, "
          f"Python {platform.python_version()}, numpy {np.__version__}")
    print("# seamless, photo2mat: a side x side photo, default --size 1024; seamless_up: --size min(side, 2048) "
          "--upscale side/size; transform: a side x side material")
    print(f"{'command':10s} {'side':>6s} {'peak GB':>8s} {'seconds':>8s}  exit  last line")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for side in map(int, args.sizes.split(",")):
            photo = make_photo(side, folder)
            for name in args.commands.split(","):
                out = folder / f"out_{name}_{side}"
                out.mkdir()
                peak, seconds, code, last = run(command(name, side, photo, out))
                print(f"{name:10s} {side:6d} {peak:8.2f} {seconds:8.1f}  {code:4d}  {last[:70]}", flush=True)


if __name__ == "__main__":
    main()
