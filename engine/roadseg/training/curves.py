"""A PNG of the loss and metric curves of a run (matplotlib, Agg), from its CSV logs."""

from __future__ import annotations

import csv
import math
import os
from pathlib import Path

from roadseg.geo.atomic import atomic_output


def read_epoch_metrics(log_root: str | os.PathLike[str]) -> dict[int, dict[str, float]]:
    """Epoch → metrics, merged over every ``metrics.csv`` under ``log_root`` (resumed parts)."""
    rows: dict[int, dict[str, float]] = {}
    for f in sorted(Path(log_root).glob("*/metrics.csv")):
        with open(f, newline="") as fh:
            for r in csv.DictReader(fh):
                if not r.get("epoch"):
                    continue
                e = int(float(r["epoch"]))
                d = rows.setdefault(e, {})
                for k, v in r.items():
                    if k not in ("epoch", "step") and v not in ("", None):
                        try:
                            d[k] = float(v)
                        except ValueError:
                            continue
    return rows


def plot_curves(log_root: str | os.PathLike[str], out: str | os.PathLike[str]) -> Path | None:
    """Write loss, validation metrics and (several sources) road IoU per source to ``out``.

    Returns None without logged epochs.
    """
    rows = read_epoch_metrics(log_root)
    if not rows:
        return None
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    epochs = sorted(rows)
    x = [e + 1 for e in epochs]

    def series(key: str) -> list[float]:
        return [rows[e].get(key, math.nan) for e in epochs]

    per_source = sorted(
        {
            k
            for r in rows.values()
            for k in r
            if k.startswith("val_road_iou_") and k != "val_road_iou_t50"
        }
    )
    ncols = 3 if per_source else 2
    fig, axes = plt.subplots(1, ncols, figsize=(5 * ncols, 4), dpi=100)
    ax1, ax2 = axes[0], axes[1]
    for key, label in (("train_loss_epoch", "train loss"), ("val_loss", "validation loss")):
        ax1.plot(x, series(key), marker="o", label=label)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("loss")
    ax1.legend()
    ax1.grid(alpha=0.3)
    for key, label in (
        ("val_miou", "mIoU"),
        ("val_road_iou", "road IoU"),
        ("val_f1", "F1"),
        ("val_accuracy", "pixel accuracy"),
    ):
        ax2.plot(x, series(key), marker="o", label=label)
    ax2.set_xlabel("epoch")
    ax2.set_ylim(0, 1)
    ax2.set_ylabel("validation")
    ax2.legend()
    ax2.grid(alpha=0.3)
    if per_source:
        ax3 = axes[2]
        for key in per_source:
            ax3.plot(x, series(key), marker=".", label=key[len("val_road_iou_") :])
        ax3.plot(x, series("val_road_iou"), color="black", linewidth=2, label="mean")
        ax3.set_xlabel("epoch")
        ax3.set_ylim(0, 1)
        ax3.set_ylabel("validation road IoU per source")
        ax3.legend(fontsize=8)
        ax3.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_output(out) as tmp:
        fig.savefig(tmp, format="png")
    plt.close(fig)
    return Path(out)
