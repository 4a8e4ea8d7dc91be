"""Peak memory of `roadseg.predict` at two raster sizes (bounded by the tile, not the raster).

Each size runs in a fresh subprocess that predicts a synthetic 3-band uint8 tiled
GeoTIFF with a tiny fully convolutional network (the pipeline's memory is what is
measured: reads, accumulator strips, resampling, writers) and reports its RSS
high-water mark (``resource.getrusage(RUSAGE_SELF).ru_maxrss``). The larger
raster has at least 25x the pixels of the smaller one; the check is that it uses
at most 1.5x the memory.

With ``--naive`` the naive whole-raster loop of ``bench_predict.py`` (same tiny
network) is measured too, for contrast.

Run:  .venv/bin/python bench/bench_predict_memory.py [--sizes 2000 10000] [--tile 512] [--naive]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_scale import make_raster  # the same synthetic raster (seed 0), any shape


def tiny_model():
    """A tiny fully convolutional 3-class network (fast: the pipeline dominates)."""
    import torch
    from roadseg.models import ModelMeta
    from torch import nn

    class TinyNet(nn.Module):
        output_stride = 32

        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.body = nn.Sequential(
                nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 3, 3, padding=1)
            )

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.body(x)

        def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.forward(x).float(), 1)

    meta = ModelMeta(
        "Unet",
        "resnet18",
        3,
        ("background", "major", "minor"),
        ((0, 0, 0), (255, 0, 0), (255, 255, 0)),
        (0, 8, 5),
        0.5,
        tile_size=512,
    )
    return TinyNet().eval(), meta


def child(raster: str, out: str, tile: int, probabilities: bool, naive: bool) -> None:
    """Predict one raster and print peak RSS (MiB) and timings as JSON."""
    from roadseg.prediction import predict

    t = time.perf_counter()
    if naive:  # the whole-raster loop of bench_predict.py, same tiny network
        from bench_predict import naive_once

        net, meta = tiny_model()
        naive_once(raster, net, meta.replace(tile_size=tile), out)
        info = {"megapixels": 0.0, "tiles": 0}
    else:
        res = predict(
            raster, tiny_model(), out, tile=tile, precision="fp32", probabilities=probabilities
        )
        info = {"megapixels": res.megapixels, "tiles": res.items[0].tiles}
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"peak_mib": peak, "seconds": time.perf_counter() - t, **info}))


def measure(raster: Path, out: Path, tile: int, probabilities: bool, naive: bool = False) -> dict:
    cmd = [sys.executable, __file__, "--child", str(raster), str(out), "--tile", str(tile)]
    if probabilities:
        cmd.append("--probabilities")
    if naive:
        cmd.append("--naive-child")
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs=2, default=[2000, 10000])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument(
        "--probabilities", action="store_true", help="also write the probability raster"
    )
    ap.add_argument("--naive", action="store_true", help="also measure the naive whole-raster loop")
    ap.add_argument("--child", nargs=2, metavar=("RASTER", "OUT"))
    ap.add_argument("--naive-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument(
        "--keep", type=Path, default=None, help="folder for the rasters (default: temporary)"
    )
    a = ap.parse_args()
    if a.child:
        child(a.child[0], a.child[1], a.tile, a.probabilities, a.naive_child)
        return
    small, big = sorted(a.sizes)
    assert big * big >= 25 * small * small, "sizes must be at least 25x apart in pixels"
    rows, naive = [], []
    with tempfile.TemporaryDirectory(dir=a.keep) as d:
        d = Path(d)
        for n in (small, big):
            src = d / f"synthetic_{n}.tif"
            t = time.perf_counter()
            make_raster(src, n, n)
            made = time.perf_counter() - t
            m = measure(src, d / f"pred_{n}.tif", a.tile, a.probabilities)
            rows.append((n, m))
            print(
                f"{n:>6}² px ({n * n / 1e6:7.1f} MP, raster made in {made:5.1f} s): "
                f"roadseg.predict peak RSS {m['peak_mib']:7.1f} MiB, {m['seconds']:6.1f} s "
                f"({m['megapixels'] / m['seconds']:.1f} MP/s, {m['tiles']} tiles)",
                flush=True,
            )
            if a.naive:
                nm = measure(src, d / f"naive_{n}.tif", a.tile, False, naive=True)
                naive.append(nm)
                print(
                    f"{'':>31}naive whole-raster peak RSS {nm['peak_mib']:7.1f} MiB, "
                    f"{nm['seconds']:6.1f} s",
                    flush=True,
                )
    (n0, m0), (n1, m1) = rows
    ratio = m1["peak_mib"] / m0["peak_mib"]
    print(
        f"pixels ratio {n1 * n1 / (n0 * n0):.0f}x -> roadseg.predict peak memory ratio "
        f"{ratio:.2f}x ({'OK' if ratio <= 1.5 else 'FAIL'}: limit 1.5x)"
    )
    if naive:
        print(
            f"{'':>22}naive whole-raster loop peak memory ratio "
            f"{naive[1]['peak_mib'] / naive[0]['peak_mib']:.2f}x; at {n1}²: naive / ours "
            f"{naive[1]['peak_mib'] / m1['peak_mib']:.2f}x"
        )


if __name__ == "__main__":
    main()
