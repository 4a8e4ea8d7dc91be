"""Evaluation report files: metrics.json, report.md, confusion.csv and confusion.png.

Every file is written under a temporary name and renamed into place, and only
after all metrics are computed, so a failed run leaves no partial report.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from roadseg.geo.atomic import atomic_output


def clean_json(obj: Any) -> Any:
    """Make numbers JSON-safe: NaN/inf → None, numpy scalars → Python, tuples → lists.

    >>> clean_json({"a": float("nan"), "b": (1, 2.5)})
    {'a': None, 'b': [1, 2.5]}
    """
    if isinstance(obj, Mapping):
        return {str(k): clean_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean_json(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def confusion_csv(cm: np.ndarray, names: tuple[str, ...]) -> str:
    r"""CSV text: one row per true class, one column per predicted class.

    >>> print(confusion_csv(np.array([[3, 1], [0, 2]]), ("background", "road")), end="")
    truth\predicted,background,road
    background,3,1
    road,0,2
    """
    lines = ["truth\\predicted," + ",".join(names)]
    for n, row in zip(names, cm, strict=True):
        lines.append(n + "," + ",".join(str(int(v)) for v in row))
    return "\n".join(lines) + "\n"


def markdown(metrics: Mapping[str, Any]) -> str:
    """Render the human-readable report (Markdown)."""
    m = metrics
    out = [
        "# Road segmentation evaluation",
        "",
        f"- prediction: `{m['prediction']}`",
        f"- truth: `{m['truth']}` ({m['truth_kind']})",
        f"- classes compared: {m['mode']} ({', '.join(m['classes'])})",
        f"- pixels compared: {m['pixels']:,}",
        "",
        "## Pixel metrics",
        "",
        "| class | IoU | F1 | precision | recall | truth px | predicted px |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, c in m["per_class"].items():
        out.append(
            f"| {name} | {_fmt(c['iou'])} | {_fmt(c['f1'])} | {_fmt(c['precision'])} | "
            f"{_fmt(c['recall'])} | {c['support']:,} | {c['predicted']:,} |"
        )
    road = m["road"]
    rel = m["relaxed"]
    out += [
        "",
        f"- pixel accuracy: {_fmt(m['pixel_accuracy'])}",
        f"- mIoU (all classes): {_fmt(m['miou'])}; mIoU (road classes): {_fmt(m['miou_roads'])}",
        f"- road vs background: IoU {_fmt(road['iou'])}, F1 {_fmt(road['f1'])}, "
        f"precision {_fmt(road['precision'])}, recall {_fmt(road['recall'])}",
        "",
        f"## Relaxed metrics (buffer {rel['buffer_m']} m)",
        "",
        f"- precision {_fmt(rel['precision'])}, recall {_fmt(rel['recall'])}, F1 {_fmt(rel['f1'])}",
        "",
        "## Road network",
        "",
    ]
    a = m.get("apls")
    g = m["graphs"]
    out.append(
        f"- truth graph: {g['truth_km']:.3f} km, {g['truth_nodes']} nodes, "
        f"{g['truth_edges']} edges "
        f"({g['truth_source']})"
    )
    out.append(
        f"- predicted graph: {g['pred_km']:.3f} km, {g['pred_nodes']} nodes, "
        f"{g['pred_edges']} edges"
    )
    if a:
        how = (
            "CosmiQ's definition, comparable with SpaceNet figures: midpoints every "
            f"{a['interval_m']} m on curved edges, renaming on"
            if a.get("definition") == "cosmiq"
            else f"roadseg's definition: control points every {a['interval_m']} m on every edge"
        )
        out += [
            f"- **APLS {_fmt(a['apls'])}** (truth→prediction {_fmt(a['truth_to_pred'])}, "
            f"prediction→truth {_fmt(a['pred_to_truth'])}; {a['pairs_truth']} + {a['pairs_pred']} "
            f"routes; {how}; snapped within {a['snap_m']} m)",
        ]
    else:
        out.append("- APLS: not computed")
    t = m.get("topo")
    if t:
        out.append(
            f"- TOPO F1 {_fmt(t['f1'])} (precision {_fmt(t['precision'])}, recall "
            f"{_fmt(t['recall'])}; holes every {t['interval_m']} m within {t['radius_m']} m of "
            f"each of {t['origins']} truth nodes, hole size {t['hole_m']} m)"
        )
    out += [
        "",
        "Confusion matrix (rows: truth, columns: prediction): `confusion.csv`, `confusion.png`.",
        "",
    ]
    return "\n".join(out)


def confusion_png(path: Path, cm: np.ndarray, names: tuple[str, ...]) -> None:
    """Heat map of the row-normalised confusion matrix with pixel counts (matplotlib Agg)."""
    import warnings

    with warnings.catch_warnings():
        # Debian's matplotlib next to the venv's: its 3-D toolkit warns on import (unused here).
        warnings.simplefilter("ignore", UserWarning)
        from matplotlib.figure import Figure

    cm = np.asarray(cm, dtype=float)
    rows = cm.sum(1, keepdims=True)
    norm = np.divide(cm, rows, out=np.zeros_like(cm), where=rows > 0)
    k = len(names)
    fig = Figure(figsize=(1.6 + 1.1 * k, 1.2 + 1.0 * k), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), labels=list(names), rotation=30, ha="right")
    ax.set_yticks(range(k), labels=list(names))
    ax.set_xlabel("predicted")
    ax.set_ylabel("truth")
    for i in range(k):
        for j in range(k):
            ax.text(
                j,
                i,
                f"{norm[i, j]:.2f}\n{int(cm[i, j]):,}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true pixels")
    fig.tight_layout()
    fig.savefig(path, format="png", bbox_inches="tight")


def write_report(
    out_dir: Path, metrics: Mapping[str, Any], cm: np.ndarray, names: tuple[str, ...]
) -> dict[str, Path]:
    """Write the four report files into ``out_dir`` (created if needed); return their paths."""
    files = {
        "metrics": out_dir / "metrics.json",
        "report": out_dir / "report.md",
        "confusion_csv": out_dir / "confusion.csv",
        "confusion_png": out_dir / "confusion.png",
    }
    with atomic_output(files["metrics"]) as tmp:
        tmp.write_text(json.dumps(clean_json(metrics), indent=2) + "\n")
    with atomic_output(files["report"]) as tmp:
        tmp.write_text(markdown(clean_json(metrics)))
    with atomic_output(files["confusion_csv"]) as tmp:
        tmp.write_text(confusion_csv(cm, names))
    with atomic_output(files["confusion_png"]) as tmp:
        confusion_png(tmp, cm, names)
    return files
