"""What a prediction wrote and measured: :class:`PredictResult` (the CLI's JSON object)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from roadseg.errors import RoadsegWarning
from roadseg.geo.paths import RasterPath
from roadseg.prediction.confidence import Confidence


@dataclass(frozen=True)
class RasterResult:
    """What was written for one input raster.

    Attributes:
        raster: Input raster.
        classes: Class raster written.
        probabilities: Probability raster written (or None).
        vectors: GeoPackage written (or None).
        megapixels: Output pixels (the input grid, cropped to the extent) / 1e6.
        seconds: Prediction wall time (without vectorising).
        tiles: Tiles in the layout; ``tiles_run`` of them had data.
        tiles_run: Tiles run through the network.
        working_shape: (rows, cols) at the working resolution (the model's unless
            ``working_gsd`` was given).
        vector_result: What vectorising reported (``as_dict()``), if it ran.
        fill_megapixels: Output pixels taken as undeclared no-data fill / 1e6
            (:mod:`roadseg.prediction.fill`; nodata in the outputs).
        confidence: How sure the model was of this raster's roads
            (:mod:`roadseg.prediction.confidence`); None where not counted (blocked runs).

    """

    raster: RasterPath
    classes: Path
    probabilities: Path | None
    vectors: Path | None
    megapixels: float
    seconds: float
    tiles: int
    tiles_run: int
    working_shape: tuple[int, int]
    vector_result: dict[str, Any] | None = None
    fill_megapixels: float = 0.0
    confidence: Confidence | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-able summary."""
        return {
            "raster": str(self.raster),
            "outputs": {
                "raster": str(self.classes),
                "probabilities": str(self.probabilities) if self.probabilities else None,
                "vectors": str(self.vectors) if self.vectors else None,
            },
            "megapixels": round(self.megapixels, 4),
            "seconds": round(self.seconds, 3),
            "mp_per_s": round(self.megapixels / self.seconds, 4) if self.seconds else None,
            "tiles": self.tiles,
            "tiles_run": self.tiles_run,
            "working_shape": list(self.working_shape),
            "fill_megapixels": round(self.fill_megapixels, 4),
            "confidence": None if self.confidence is None else self.confidence.as_dict(),
            "vectorize": self.vector_result,
        }


@dataclass(frozen=True)
class PredictResult:
    """The result of :func:`predict`.

    Attributes:
        items: One :class:`RasterResult` per input raster, in order.
        model: The model name or file.
        device: Device used (``cpu``, ``cuda:0``...).
        precision: ``fp32``, ``bf16`` or ``fp16``.
        seconds: Total wall time.
        warnings: Notes for the user.
        settings: Tile, overlap, batch size and TTA used.
        blocks: For a blocked prediction: block size, blocks in all, run now and skipped
            (finished by an earlier run), the manifest and where they ran (None otherwise).

    """

    items: tuple[RasterResult, ...]
    model: str
    device: str
    precision: str
    seconds: float
    warnings: tuple[RoadsegWarning, ...] = ()
    settings: dict[str, Any] = field(default_factory=dict)
    blocks: dict[str, Any] | None = None

    @property
    def megapixels(self) -> float:
        """Output megapixels over all rasters."""
        return sum(i.megapixels for i in self.items)

    @property
    def confidence(self) -> Confidence | None:
        """How sure the model was over all rasters (None when a raster was not counted)."""
        if not self.items or any(i.confidence is None for i in self.items):
            return None
        total = Confidence()
        for i in self.items:
            assert i.confidence is not None
            total += i.confidence
        return total

    def as_dict(self) -> dict[str, Any]:
        """Return the CLI's JSON object: outputs, metrics, model, device, precision."""
        one = len(self.items) == 1

        def pick(key: str) -> Any:
            vals = [i.as_dict()["outputs"][key] for i in self.items]
            return vals[0] if one else vals

        pred_s = sum(i.seconds for i in self.items)
        metrics: dict[str, Any] = {
            "megapixels": round(self.megapixels, 4),
            "seconds": round(self.seconds, 3),
            "predict_seconds": round(pred_s, 3),
            "mp_per_s": round(self.megapixels / pred_s, 4) if pred_s else None,
            "tiles": sum(i.tiles for i in self.items),
        }
        sure = self.confidence
        metrics["confidence"] = None if sure is None else sure.as_dict()
        km = _km_per_class([i.vector_result for i in self.items if i.vector_result])
        if km is not None:
            metrics["km_per_class"] = km
        out: dict[str, Any] = {
            "outputs": {
                "raster": pick("raster"),
                "probabilities": pick("probabilities"),
                "vectors": pick("vectors"),
            },
            "metrics": metrics,
            "model": self.model,
            "device": self.device,
            "precision": self.precision,
            "settings": self.settings,
            "rasters": [i.as_dict() for i in self.items],
            "warnings": [str(w) for w in self.warnings],
        }
        if self.blocks is not None:
            out["blocks"] = dict(self.blocks)
        return out


def _km_per_class(results: list[dict[str, Any]]) -> dict[str, float] | None:
    """Sum the per-class lengths the vectoriser reported (wherever it put them)."""
    total: dict[str, float] = {}
    found = False
    for r in results:
        metrics = r.get("metrics") or {}
        km = r.get("km_per_class") or metrics.get("km_per_class")
        if km is None and isinstance(metrics.get("per_class"), dict):
            km = {
                name: v["km"]
                for name, v in metrics["per_class"].items()
                if isinstance(v, dict) and v.get("km") is not None
            }
        if isinstance(km, dict):
            found = True
            for k, v in km.items():
                total[k] = round(total.get(k, 0.0) + float(v), 4)
    return total if found else None
