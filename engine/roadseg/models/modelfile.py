"""The model file: safetensors weights plus JSON metadata, one file per model.

Weights load without executing code. Metadata records everything prediction
needs (architecture, encoder, bands and their scaling, normalisation, ground
resolution, tile size, classes, colours, widths) plus the training summary and
metrics. Files from a newer format are refused with a clear message.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, replace
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from roadseg._version import __version__
from roadseg.errors import InputNotFoundError, ModelFileError
from roadseg.geo.classes import Classes, ClassScheme
from roadseg.geo.normalize import Scaling
from roadseg.models.factory import RoadNet

#: Format of the files this engine writes; it reads this one and older ones.
FORMAT_VERSION = 1
EMBEDDED = {"default": "default/roadseg-default.safetensors"}


@dataclass(frozen=True)
class ModelMeta:
    """Everything needed to rebuild a model and feed it imagery.

    Attributes:
        arch: smp architecture (``Unet``...).
        encoder: smp encoder name.
        in_channels: Number of input bands.
        bands: 1-based raster bands to read (None: the raster's non-alpha bands).
        scaling: Raw → [0, 1] scaling used in training.
        mean: Per-band mean applied in the network.
        std: Per-band std applied in the network.
        gsd_m: Ground resolution the model works at (metres per pixel).
        tile_size: Training tile side in pixels (a good prediction tile).
        classes: Class names, ``classes[0] == "background"``.
        colors: RGB per class.
        widths_m: Typical road width per class (metres).
        binary: One sigmoid output instead of softmax.
        road_threshold: A pixel is road where the summed probability of the road classes
            (the sigmoid for binary models) is at least this; its class is then the
            likeliest road class. Chosen on validation by training.
        training: Training data summary.
        metrics: Validation metrics.
        engine_version: roadseg version that wrote the file.
        format_version: Model-file format.

    """

    arch: str
    encoder: str
    in_channels: int
    classes: tuple[str, ...]
    colors: tuple[tuple[int, int, int], ...]
    widths_m: tuple[float, ...]
    gsd_m: float
    tile_size: int = 512
    bands: tuple[int, ...] | None = None
    scaling: Scaling = field(default_factory=Scaling)
    mean: tuple[float, ...] = (0.5,)
    std: tuple[float, ...] = (0.5,)
    binary: bool = False
    road_threshold: float = 0.5
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    engine_version: str = __version__
    format_version: int = FORMAT_VERSION

    @property
    def num_classes(self) -> int:
        """Classes including background."""
        return len(self.classes)

    @property
    def class_set(self) -> Classes:
        """The model's classes (names, colours, widths) as one :class:`Classes` value.

        The file stores them as the three lists ``classes``, ``colors`` and ``widths_m``.
        """
        return Classes.of(self.classes, self.colors, self.widths_m)

    @property
    def scheme(self) -> ClassScheme:
        """The model's classes as a :class:`ClassScheme` (no attribute mapping)."""
        c = self.class_set
        return ClassScheme(c.names, c.colors, c.widths_m)

    def to_json(self) -> str:
        """Serialise to JSON."""
        d = asdict(self)
        d["scaling"] = self.scaling.as_dict()
        return json.dumps(d)

    @classmethod
    def from_json(cls, text: str) -> ModelMeta:
        """Parse JSON written by :meth:`to_json` (unknown keys are ignored)."""
        d = json.loads(text)
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        d["scaling"] = Scaling.from_dict(d.get("scaling", {"low": [0], "high": [255]}))
        for k in ("classes", "mean", "std", "widths_m"):
            if k in d:
                d[k] = tuple(d[k])
        d["colors"] = tuple(tuple(c) for c in d.get("colors", ()))
        if d.get("bands") is not None:
            d["bands"] = tuple(d["bands"])
        return cls(**d)

    def replace(self, **changes: Any) -> ModelMeta:
        """A copy with some fields changed."""
        return replace(self, **changes)

    def summary(self) -> dict[str, Any]:
        """A short JSON-able description (for ``roadseg models``, the plugin)."""
        return {
            "arch": self.arch,
            "encoder": self.encoder,
            "classes": list(self.classes),
            "colors": [list(c) for c in self.colors],
            "widths_m": list(self.widths_m),
            "gsd_m": self.gsd_m,
            "tile_size": self.tile_size,
            "road_threshold": self.road_threshold,
            "in_channels": self.in_channels,
            "bands": list(self.bands) if self.bands else None,
            "metrics": self.metrics,
            "engine_version": self.engine_version,
        }


def build_model(meta: ModelMeta) -> RoadNet:
    """Build the (untrained) network a :class:`ModelMeta` describes."""
    return RoadNet(
        meta.arch,
        meta.encoder,
        meta.in_channels,
        meta.num_classes,
        meta.binary,
        meta.mean,
        meta.std,
    )


def save_model(
    path: str | os.PathLike[str], model: RoadNet, meta: ModelMeta, half: bool = False
) -> Path:
    """Write a model file atomically (safetensors + metadata). ``half`` stores fp16 weights."""
    from safetensors.torch import save_file

    from roadseg.geo.atomic import atomic_output

    state = {
        k: (
            v.detach().to("cpu").contiguous().half()
            if half and v.is_floating_point()
            else v.detach().to("cpu").contiguous()
        )
        for k, v in model.state_dict().items()
    }
    meta = meta.replace(engine_version=__version__, format_version=FORMAT_VERSION)
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata={"roadseg": meta.to_json(), "format": "roadseg-model"})
    return Path(path)


def resolve_model_path(name_or_path: str | os.PathLike[str]) -> Path:
    """Turn ``"default"`` (or another embedded name) or a path into a file path."""
    s = str(name_or_path)
    if s in EMBEDDED:
        ref = resources.files("roadseg.models").joinpath(EMBEDDED[s])
        p = Path(str(ref))
        if not p.exists():
            raise ModelFileError(
                f"the embedded model {s!r} is not built in this installation",
                value=s,
                hint="build it with `python scripts/train_default_model.py` or give a model file",
            )
        return p
    p = Path(s)
    if not p.exists():
        raise InputNotFoundError(
            f"model file {s!r} does not exist",
            value=s,
            hint=f"give a file written by training or one of: {', '.join(EMBEDDED)}",
        )
    return p


def read_meta(name_or_path: str | os.PathLike[str]) -> ModelMeta:
    """Read only the metadata of a model file (fast: no weights)."""
    from safetensors import safe_open

    p = resolve_model_path(name_or_path)
    try:
        with safe_open(str(p), framework="pt") as f:
            md = f.metadata() or {}
    except Exception as exc:  # noqa: BLE001 - safetensors raises several types
        raise ModelFileError(
            f"{str(p)!r} is not a roadseg model file ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__}); "
            "give a file written by `roadseg train`"
        ) from None
    if md.get("format") != "roadseg-model" or "roadseg" not in md:
        raise ModelFileError(
            f"{str(p)!r} is a safetensors file but not a roadseg model (no roadseg metadata); "
            "give a file written by `roadseg train`"
        )
    raw = json.loads(md["roadseg"])
    fv = int(raw.get("format_version", 0))
    if fv > FORMAT_VERSION:
        raise ModelFileError(
            f"{str(p)!r} was written by roadseg {raw.get('engine_version')} (model format {fv}); "
            f"this engine ({__version__}) reads format {FORMAT_VERSION} and older: upgrade roadseg"
        )
    try:
        return ModelMeta.from_json(md["roadseg"])
    except (TypeError, KeyError, ValueError) as exc:
        raise ModelFileError(f"{str(p)!r} has invalid roadseg metadata ({exc})") from None


def load_model(
    name_or_path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[RoadNet, ModelMeta]:
    """Load a model file (or embedded model name) → (network in eval mode, metadata)."""
    from safetensors.torch import load_file

    meta = read_meta(name_or_path)
    p = resolve_model_path(name_or_path)
    model = build_model(meta)
    try:
        state = load_file(str(p))
    except Exception as exc:  # noqa: BLE001
        raise ModelFileError(f"cannot read the weights in {str(p)!r}: {exc}") from None
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ModelFileError(
            f"{str(p)!r}: weights do not match {meta.arch}/{meta.encoder} "
            f"(missing {len(missing)}, unexpected {len(unexpected)}); the file is damaged"
        )
    model.eval().to(device)
    return model, meta


def list_embedded() -> list[dict[str, Any]]:
    """The embedded models present in this installation, with their summaries."""
    out = []
    for name in EMBEDDED:
        try:
            meta = read_meta(name)
        except ModelFileError:
            continue
        out.append({"name": name, "path": str(resolve_model_path(name)), **meta.summary()})
    return out
