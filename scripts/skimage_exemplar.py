"""Write one of scikit-image's bundled texture photos (gravel, grass or brick) as a PNG exemplar.

scikit-image is not a project dependency; run this with any Python that has it:

    python scripts/skimage_exemplar.py gravel /tmp/gravel_data
    .venv/bin/python -m trainer train --config configs/library.toml --data /tmp/gravel_data \
        --steps 1500 --out runs/gravel_skimage
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("photo", choices=("gravel", "grass", "brick"))
    parser.add_argument("out", type=Path, help="folder to write <photo>.png into")
    args = parser.parse_args()
    try:
        from skimage import data, io
    except ImportError:
        print("error: this script needs scikit-image (pip install scikit-image)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{args.photo}.png"
    io.imsave(path, getattr(data, args.photo)(), check_contrast=False)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
