"""What an adaptation writes: the model file with its figures, and the summaries in it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from roadseg.adaptation.prepare import LabelledCrop, labelled_working_px
from roadseg.adaptation.result import AdaptResult
from roadseg.errors import about
from roadseg.models import ModelMeta, RoadNet, save_model
from roadseg.prediction.manifest import file_sha256

#: Rasters listed one by one in the summaries (the totals cover all of them).
LISTED_RASTERS = 50


def data_summary(
    dataset: Path | None, crops: list[LabelledCrop], meta: ModelMeta
) -> dict[str, Any]:
    """The labelled ground: totals and, per raster, its area, labels and class rule."""
    lab_m2 = sum(c.labelled * c.pixel_m2 for c in crops)
    road_m2 = sum(c.road * c.pixel_m2 for c in crops)
    return {
        "dataset": str(dataset) if dataset else None,
        "images": len(crops),
        "labelled_km2": round(lab_m2 / 1e6, 4),
        "road_km2": round(road_m2 / 1e6, 4),
        "labelled_model_px": labelled_working_px(crops, meta.gsd_m),
        "area": sorted({c.area_source for c in crops}),
        "rasters": [c.summary() for c in crops][:LISTED_RASTERS],
    }


def sha256(path: Path) -> str:
    """Hex SHA-256 of a file (the manifest's hash: one implementation)."""
    return file_sha256(path)


def parent_summary(name: str, path: Path, meta: ModelMeta) -> dict[str, Any]:
    """The starting model: how it was named, its file's hash, what it is."""
    return {
        "model": name,
        "sha256": sha256(path),
        "arch": meta.arch,
        "encoder": meta.encoder,
        "gsd_m": meta.gsd_m,
        "classes": list(meta.classes),
        "engine_version": meta.engine_version,
    }


def stored_half(path: Path) -> bool:
    """True when a model file stores fp16 weights (the embedded model does)."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        keys = list(f.keys())
        return bool(keys) and str(f.get_slice(keys[0]).get_dtype()) in ("F16", "float16")


def write_model(
    res: AdaptResult,
    adapted: tuple[RoadNet, ModelMeta],
    parent: tuple[RoadNet, ModelMeta],
    parent_path: Path,
    pairs: tuple[tuple[Path, Path], ...],
) -> None:
    """Write the model :attr:`AdaptResult.kept` names, with the figures.

    ``adapted``: the fine-tuned model, with the starting model's class colours and widths
    and a training summary listing the user's inputs (not the work folder's crops);
    ``threshold``: the starting network with the hold-out's road threshold; ``starting``:
    the starting model unchanged. The last two keep the starting file's precision.
    """
    record = {**res.figures(), "parent": res.parent, "data": res.data}
    if res.improved:
        net, meta = adapted
        training = {
            k: v for k, v in meta.training.items() if k not in ("images", "labels", "sources")
        }
        training["images"] = [str(p[0]) for p in pairs]
        training["labels"] = sorted({str(p[1]) for p in pairs})
        training["init_from"] = {**training.get("init_from", {}), "model": res.parent["model"]}
        training["adapt"] = record
        m = meta.replace(colors=parent[1].colors, widths_m=parent[1].widths_m, training=training)
        with about("out"):
            save_model(res.model_path, net, m)
        return
    net, meta = parent
    threshold = meta.road_threshold
    if res.kept == "threshold" and res.before_best_threshold is not None:
        threshold = res.before_best_threshold
        record["note"] = (
            "the adapted model was not better on the hold-out than the starting model at its "
            "best threshold there: this is the starting model's network with that road "
            f"threshold ({threshold:g}, was {meta.road_threshold:g})"
        )
    else:
        record["note"] = (
            "the adapted model was not better on the hold-out than the starting model (at its "
            "own threshold and at its best one there): this is the starting model, unchanged"
        )
    m = meta.replace(road_threshold=threshold, training={**meta.training, "adapt": record})
    with about("out"):
        save_model(res.model_path, net, m, half=stored_half(parent_path))
