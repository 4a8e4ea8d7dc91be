"""Training-step choices on this machine: precision (fp32 vs bf16-mixed), where augmentation runs.

One run, interleaved repetitions, medians:

1. **Precision**: one optimisation step (forward, loss, backward, AdamW) of
   Unet-resnet34 and Unet-EfficientNet-Lite0 (the default model's) on 4×3×256×256,
   channels-last, fp32 vs ``torch.autocast(bf16)`` (what Lightning's
   ``precision="bf16-mixed"`` does on CPU), and what ``auto`` picks on this CPU.
2. **Augmentation**: the default ``augment:`` settings on a batch of 8 256²
   tiles, ``apply_batch`` (torch + kornia, as on the device) vs ``apply_numpy``
   per sample (as in DataLoader workers), in milliseconds per sample.
3. **End to end**: steps/s of a small training loop (Unet-resnet18, 8×256²,
   bf16) fed by a DataLoader with one worker from a synthetic raster, with the
   augmentation applied in the worker (numpy) or after the transfer (kornia).

Run:  .venv/bin/python bench/bench_train.py [--steps 6] [--threads N] [--encoders E...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "engine"))
sys.path.insert(0, str(ROOT / "bench"))


def _step_time(net, opt, x, y, bf16: bool) -> float:
    import torch
    import torch.nn.functional as F

    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        out = net(x)
    loss = F.cross_entropy(out.float(), y)
    loss.backward()
    opt.step()
    opt.zero_grad(set_to_none=True)
    return time.perf_counter() - t0


def bench_precision(steps: int, encoder: str = "resnet34") -> dict:
    import torch
    from roadseg.models import RoadNet

    torch.manual_seed(0)
    net = RoadNet("Unet", encoder, 3, 4).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    x = torch.rand(4, 3, 256, 256).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 4, (4, 256, 256))
    for bf16 in (False, True):  # warm-up
        _step_time(net, opt, x, y, bf16)
    times = {"fp32": [], "bf16-mixed": []}
    for _ in range(steps):
        times["fp32"].append(_step_time(net, opt, x, y, False))
        times["bf16-mixed"].append(_step_time(net, opt, x, y, True))
    med = {k: statistics.median(v) for k, v in times.items()}
    return {
        "encoder": encoder,
        "s_per_step": {k: round(v, 3) for k, v in med.items()},
        "bf16_speedup": round(med["fp32"] / med["bf16-mixed"], 2),
    }


def bench_augment(reps: int) -> dict:
    import torch
    from roadseg.data.augment import AugmentConfig, apply_batch, apply_numpy, sample_params

    cfg = AugmentConfig()
    rng = np.random.default_rng(0)
    imgs = rng.random((8, 3, 256, 256), dtype=np.float32)
    masks = rng.integers(0, 4, (8, 256, 256)).astype(np.uint8)
    tb, tn = [], []
    for _ in range(reps):
        params = np.stack([sample_params(cfg, rng) for _ in range(8)])
        t0 = time.perf_counter()
        apply_batch(
            torch.from_numpy(imgs), torch.from_numpy(masks).long(), torch.from_numpy(params)
        )
        tb.append((time.perf_counter() - t0) / 8)
        t0 = time.perf_counter()
        for i in range(8):
            apply_numpy(imgs[i], masks[i], params[i])
        tn.append((time.perf_counter() - t0) / 8)
    return {
        "ms_per_sample": {
            "batch_kornia": round(1000 * statistics.median(tb), 2),
            "numpy_per_sample": round(1000 * statistics.median(tn), 2),
        }
    }


def bench_loop(steps: int, in_workers: bool, tif: Path, gpkg: Path) -> float:
    import torch
    import torch.nn.functional as F
    from roadseg.data import Scene, TrainWindows, WindowPlan, WindowSampler, split_scene
    from roadseg.data.augment import AugmentConfig, apply_batch
    from roadseg.geo.classes import ClassScheme
    from roadseg.geo.labels import VectorLabels
    from roadseg.geo.raster import open_raster
    from roadseg.models import RoadNet
    from torch.utils.data import DataLoader

    src = open_raster(tif)
    scene = Scene(src, VectorLabels(gpkg, ClassScheme.preset("synth"), src.grid), 0.5)
    blocks = split_scene(scene.width, scene.height, 256, "split", 0.2, "checkerboard", 0, 0)
    plan = WindowPlan([blocks], [scene.road_points(64, 100_000)], 256, 0.5)
    n = 8 * (steps + 1)
    ds = TrainWindows([scene], plan, n, augment=AugmentConfig(), in_workers=in_workers)
    dl = DataLoader(ds, batch_size=8, sampler=WindowSampler(n), num_workers=1, prefetch_factor=2)
    torch.manual_seed(0)
    net = RoadNet("Unet", "resnet18", 3, 4).to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    t0 = None
    for i, b in enumerate(dl):
        if i == 1:
            t0 = time.perf_counter()  # the first batch includes worker start-up
        x, y = b["image"], b["mask"].long()
        if not in_workers:
            x, y = apply_batch(x, y, b["aug"])
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = net(x)
        F.cross_entropy(out.float(), y, ignore_index=255).backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--skip-loop", action="store_true")
    ap.add_argument(
        "--encoders",
        nargs="+",
        default=["resnet34", "tu-tf_efficientnet_lite0"],
        help="encoders of the precision comparison (Lite0: the default model's)",
    )
    args = ap.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    from roadseg.device import this_cpu, training_precision

    cpu = this_cpu()
    out: dict = {
        "threads": torch.get_num_threads(),
        "cpu": f"{cpu.model} ({cpu.vendor})",
        "auto": training_precision("auto", "cpu"),
    }
    out["precision"] = [bench_precision(args.steps, e) for e in args.encoders]
    for p in out["precision"]:
        print("precision:", json.dumps(p), flush=True)
    print(f"auto on this CPU: {out['auto']}", flush=True)
    out["augment"] = bench_augment(max(4, args.steps))
    print("augment:", json.dumps(out["augment"]), flush=True)
    if not args.skip_loop:
        from bench_data import make_data

        with tempfile.TemporaryDirectory() as tmp:
            tif, gpkg = make_data(Path(tmp), 1024)
            loop = {"workers_numpy": [], "batch_kornia": []}
            for _ in range(2):
                loop["workers_numpy"].append(bench_loop(args.steps, True, tif, gpkg))
                loop["batch_kornia"].append(bench_loop(args.steps, False, tif, gpkg))
            out["loop_steps_per_s"] = {k: round(statistics.median(v), 3) for k, v in loop.items()}
            print("loop:", json.dumps(out["loop_steps_per_s"]), flush=True)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
