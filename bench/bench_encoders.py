"""Benchmark: `roadseg predict` speed of the default model's shape with larger encoders.

The default model may only grow its encoder while ``roadseg predict`` on the 2-core CPU
keeps ≥ 0.8 MP/s at 0.5 m. This measures Unet with EfficientNet-Lite0 (the default's
encoder), Lite1 and Lite2 — random weights, the default model's metadata otherwise (RGB,
0.5 m, tile 256, four classes) — end to end on the same synthetic raster, the encoders
taken in turn (round-robin, best of ``--repeat``), with the precision the machine's rule
picks. Ratios are to Lite0 measured in the same run.

    .venv/bin/python bench/bench_encoders.py [--size 1536] [--repeat 2]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))

ENCODERS = ("tu-tf_efficientnet_lite0", "tu-tf_efficientnet_lite1", "tu-tf_efficientnet_lite2")


def main(argv: list[str] | None = None) -> int:
    import dataclasses

    import torch
    from roadseg.models import build_model, read_meta, save_model
    from roadseg.prediction import predict
    from roadseg.synth import make_scene

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=1536, help="raster side in pixels (0.5 m)")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args(argv)
    base = read_meta("default")
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        make_scene(d / "scene", size=a.size, gsd=0.5, seed=7)
        raster = d / "scene" / "image.tif"
        models = {}
        for enc in ENCODERS:
            torch.manual_seed(0)
            meta = dataclasses.replace(base, encoder=enc, training={}, metrics={})
            path = d / f"{enc}.safetensors"
            save_model(path, build_model(meta), meta, half=True)
            models[enc] = path
        best: dict[str, float] = {e: float("inf") for e in ENCODERS}
        mp = a.size * a.size / 1e6
        for r in range(a.repeat):
            for enc in ENCODERS:
                t0 = time.perf_counter()
                predict(raster, model=models[enc], out=d / f"out_{r}_{enc}.tif")
                best[enc] = min(best[enc], time.perf_counter() - t0)
    ref = mp / best[ENCODERS[0]]
    print(f"roadseg predict, {a.size}² at 0.5 m ({mp:.2f} MP), best of {a.repeat}, round-robin")
    print("| encoder | MP/s | vs Lite0 | ≥ 0.8 MP/s |")
    print("|---|---|---|---|")
    for enc in ENCODERS:
        s = mp / best[enc]
        print(f"| {enc} | {s:.2f} | {s / ref:.2f}× | {'yes' if s >= 0.8 else 'no'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
