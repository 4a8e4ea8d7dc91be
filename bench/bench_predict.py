"""End-to-end prediction throughput vs the bare network, and vs a naive whole-raster loop.

One run measures, on the same synthetic 2048² 3-band raster and the same
Unet (random weights, encoder resnet34 by default):

* ``roadseg.predict`` end to end (reads, resampling, overlap 1/4, blending,
  writing the class raster), in megapixels of input per second;
* the bare network forward on the same tiles (same count, size, batch, device
  and precision policy) in the same process: the end-to-end / bare ratio shows
  what the streaming pipeline costs (target >= 0.8);
* a naive sliding window as course projects write it: read the whole raster into
  memory, fp32, contiguous tensors, no overlap, no blending, a full-raster
  probability array, one write at the end (batches of 2 tiles like ours, so the
  network's own memory is the same in both);

and the peak memory (RSS high-water mark) of each, each in a fresh subprocess.

Run:  .venv/bin/python bench/bench_predict.py [--size 2048] [--encoder resnet34] [--repeat 2]
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

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_predict_memory import make_raster  # noqa: E402


def peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load(model: str, threads: int | None):
    import torch
    from roadseg.models import load_model

    if threads:
        torch.set_num_threads(threads)
    return load_model(model)


def ours_once(raster: str, net_meta, out: str):
    """One end-to-end ``roadseg.predict`` run (default tile, overlap, batch, precision)."""
    from roadseg.prediction import predict

    return predict(raster, net_meta, out, tile=net_meta[1].tile_size, batch_size=2)


def warm_up(raster: str, net_meta, out: str) -> None:
    """oneDNN primitive creation for the tile shape: predict a 1.5-tile crop."""
    import rasterio
    from roadseg.prediction import predict

    with rasterio.open(raster) as ds:
        x0, _, _, y1 = ds.bounds
        side = 1.5 * net_meta[1].tile_size * ds.res[0]
    predict(raster, net_meta, out, bbox=(x0, y1 - side, x0 + side, y1), tile=net_meta[1].tile_size)


def bare_once(pred, n_tiles: int, tile_h: int, tile_w: int) -> float:
    """The network alone on ``n_tiles`` tiles, batches of 2, as the predictor runs it."""
    batch = np.random.default_rng(0).random((2, 3, tile_h, tile_w), dtype=np.float32)
    t = time.perf_counter()
    left = n_tiles
    while left > 0:
        pred(batch[: min(2, left)])
        left -= 2
    return time.perf_counter() - t


def naive_once(raster: str, net, meta, out: str) -> float:
    """Read all, fp32 contiguous, non-overlapping tiles (batches of 2), full-raster
    probabilities, one write at the end."""
    import rasterio
    import torch

    tile = meta.tile_size
    t = time.perf_counter()
    with rasterio.open(raster) as ds:
        img = ds.read().astype(np.float32) / 255.0
        profile = ds.profile
    c, h, w = img.shape
    hp, wp = -(-h // tile) * tile, -(-w // tile) * tile
    img = np.pad(img, ((0, 0), (0, hp - h), (0, wp - w)), mode="reflect")
    probs = np.zeros((meta.num_classes, hp, wp), np.float32)
    net = net.to(memory_format=torch.contiguous_format)
    spots = [(y, x) for y in range(0, hp, tile) for x in range(0, wp, tile)]
    with torch.no_grad():
        for i in range(0, len(spots), 2):  # batches of 2, like ours: same network memory
            group = spots[i : i + 2]
            xt = torch.from_numpy(np.stack([img[:, y : y + tile, x : x + tile] for y, x in group]))
            out_t = net.predict_proba(xt).numpy()
            for (y, x), pr in zip(group, out_t, strict=True):
                probs[:, y : y + tile, x : x + tile] = pr
    classes = probs[:, :h, :w].argmax(0).astype(np.uint8)
    profile.update(count=1, dtype="uint8", nodata=255, compress="deflate")
    with rasterio.open(out, "w", **profile) as ds:
        ds.write(classes[None])
    return time.perf_counter() - t


def run_speed(raster: str, model: str, out: str, repeat: int, threads: int | None) -> dict:
    """All three arms in one process, interleaved (same machine load), best of ``repeat``."""
    import torch
    from roadseg.device import resolve_policy
    from roadseg.prediction.network import TilePredictor
    from roadseg.prediction.tiling import TileLayout

    net, meta = load(model, threads)
    warm_up(raster, (net, meta), out)
    with torch.no_grad():
        net.to(memory_format=torch.contiguous_format).predict_proba(torch.rand(1, 3, 512, 512))
    e2e, bare, naive = [], [], []
    for _ in range(repeat):
        res = ours_once(raster, (net, meta), out)
        item = res.items[0]
        e2e.append(item.seconds)
        lay = TileLayout.build(*item.working_shape, meta.tile_size, meta.tile_size // 4)
        pred = TilePredictor(net, resolve_policy("auto", "auto"))
        bare.append(bare_once(pred, lay.n_tiles, lay.tile_h, lay.tile_w))
        naive.append(naive_once(raster, net, meta, out + ".naive.tif"))
    return {
        "megapixels": item.megapixels,
        "tiles": item.tiles,
        "e2e_s": min(e2e),
        "bare_s": min(bare),
        "naive_s": min(naive),
        "precision": res.precision,
        "policy": res.settings["policy"],
        "threads": torch.get_num_threads(),
    }


def run_mem(kind: str, raster: str, model: str, out: str, threads: int | None) -> dict:
    """One run of one arm in a fresh process: its RSS high-water mark."""
    net, meta = load(model, threads)
    if kind == "mem-ours":
        ours_once(raster, (net, meta), out)
    else:
        naive_once(raster, net, meta, out)
    return {"peak_mib": peak_mib()}


def precision_table(encoder: str, tile: int, repeat: int) -> None:
    """Bare forward MP/s of fp32 / channels_last / bf16 / fp16 autocast, interleaved."""
    import torch
    from roadseg.device import cpu_precision, this_cpu
    from roadseg.models import ModelMeta, build_model

    torch.manual_seed(0)
    meta = ModelMeta(
        "Unet",
        encoder,
        3,
        ("background", "road"),
        ((0, 0, 0), (255, 0, 0)),
        (0.0, 6.0),
        0.5,
        tile_size=tile,
    )
    net = build_model(meta).eval()
    x = torch.rand(2, 3, tile, tile)
    arms = {
        "fp32": (False, None),
        "fp32 channels_last": (True, None),
        "bf16 channels_last": (True, torch.bfloat16),
        "fp16 channels_last": (True, torch.float16),
    }
    best = {k: 0.0 for k in arms}
    for rep in range(repeat + 1):
        for name, (cl, dt) in arms.items():
            fmt = torch.channels_last if cl else torch.contiguous_format
            m, xx = net.to(memory_format=fmt), x.contiguous(memory_format=fmt)
            with (
                torch.inference_mode(),
                torch.autocast("cpu", dtype=dt or torch.bfloat16, enabled=dt is not None),
            ):
                t = time.perf_counter()
                m.predict_proba(xx)
                if rep:  # the first round warms up
                    best[name] = max(best[name], 2 * tile * tile / 1e6 / (time.perf_counter() - t))
    print(
        f"Unet-{encoder} forward on 2x3x{tile}², best of {repeat}, "
        f"{torch.get_num_threads()} threads; auto picks {cpu_precision(this_cpu())}"
    )
    for name, v in best.items():
        print(f"  {name:<20}: {v:6.3f} MP/s  ({v / best['fp32']:.2f}x fp32)")


def spawn(kind: str, *args: str) -> dict:
    r = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args], capture_output=True, text=True
    )
    if r.returncode:
        sys.exit(r.stderr)
    return json.loads(r.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048)
    ap.add_argument("--encoder", default="resnet34")
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--child", nargs=4, metavar=("KIND", "RASTER", "MODEL", "OUT"))
    ap.add_argument(
        "--precisions",
        action="store_true",
        help="only print the forward speed per precision / memory format",
    )
    a = ap.parse_args()
    if a.precisions:
        precision_table(a.encoder, a.tile, max(2, a.repeat))
        return
    if a.child:
        kind, raster, model, out = a.child
        threads = a.threads or None
        if kind == "speed":
            print(json.dumps(run_speed(raster, model, out, a.repeat, threads)))
        else:
            print(json.dumps(run_mem(kind, raster, model, out, threads)))
        return
    import torch
    from roadseg.models import ModelMeta, build_model, save_model

    with tempfile.TemporaryDirectory() as d:
        d = Path(d)
        raster = d / "scene.tif"
        make_raster(raster, a.size)
        torch.manual_seed(0)
        meta = ModelMeta(
            "Unet",
            a.encoder,
            3,
            ("background", "road"),
            ((0, 0, 0), (255, 0, 0)),
            (0.0, 6.0),
            0.5,
            tile_size=a.tile,
        )
        model = d / "model.safetensors"
        save_model(model, build_model(meta), meta)
        extra = ["--repeat", str(a.repeat), "--threads", str(a.threads)]
        args = (str(raster), str(model), str(d / "out.tif"))
        speed = spawn("speed", *args, *extra)
        mem_ours = spawn("mem-ours", *args, *extra)
        mem_naive = spawn("mem-naive", *args, *extra)
    mp = speed["megapixels"]
    e2e, bare, nv = mp / speed["e2e_s"], mp / speed["bare_s"], mp / speed["naive_s"]
    naive_tiles = (-(-a.size // a.tile)) ** 2
    lines = [
        f"raster {a.size}² ({mp:.2f} MP), Unet-{a.encoder} (random weights), tile {a.tile}, "
        f"overlap {a.tile // 4}, {speed['tiles']} tiles, batch 2, "
        f"torch threads {speed['threads']}, "
        f"precision {speed['precision']} ({speed['policy']}); best of {a.repeat}, interleaved",
        f"  roadseg.predict end to end : {e2e:6.3f} MP/s  ({speed['e2e_s']:.1f} s)",
        f"  bare forward, same tiles   : {bare:6.3f} MP/s  ({speed['bare_s']:.1f} s)",
        f"  naive whole-raster fp32    : {nv:6.3f} MP/s  ({speed['naive_s']:.1f} s, "
        f"{naive_tiles} tiles, no overlap)",
        f"  end-to-end / bare forward  : {e2e / bare:.2f}x  (target >= 0.8)",
        f"  end-to-end / naive speed   : {e2e / nv:.2f}x",
        f"  peak RSS ours / naive      : {mem_ours['peak_mib']:.0f} / "
        f"{mem_naive['peak_mib']:.0f} MiB = {mem_ours['peak_mib'] / mem_naive['peak_mib']:.2f}x",
    ]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
