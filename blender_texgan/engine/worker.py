"""The external-Python worker: runs one generation request in another interpreter (for example a
Python with torch + CUDA) and hands the maps back as .npy files (never pickles).

Protocol: argv = [request JSON, output folder]. stdout lines: "progress <fraction>", then either
"done" (the maps are in the folder) or "error <one line for the user>". Anything on stderr (an
import error before the protocol starts, say) is read by the caller: its last line is reported.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .generate import GenerationRequest, generate


def main(argv: list[str]) -> int:
    request = GenerationRequest(**json.loads(argv[0]))
    out = Path(argv[1])

    def progress(fraction: float) -> None:
        print(f"progress {fraction:.4f}", flush=True)

    try:
        maps, manifest = generate(request, progress=progress)
    except Exception as exc:  # reported to the add-on as one line
        print(f"error {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}", flush=True)
        return 2
    for name, array in maps.items():
        np.save(out / f"{name}.npy", array, allow_pickle=False)
    (out / "manifest.json").write_text(json.dumps(manifest))
    print("done", flush=True)
    return 0
