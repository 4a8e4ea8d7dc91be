"""The models the user adapted: named entries the Map roads dialog lists (kept as JSON text).

The plugin keeps the list in QgsSettings (``roadseg/adapted_models``) so that it
survives QGIS restarts; this module only turns it into value objects and back.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

from .i18n import tr


@dataclass(frozen=True)
class AdaptedModel:
    """One adapted model.

    Attributes:
        name: The name the user gave it (unique in the list).
        path: The model file.
        parent: The model it started from (``default`` or a file).
        raster: The imagery it was adapted to (layer name).
        before: Road IoU of the starting model on the held-out roads.
        after: Road IoU of this model there.
        created: When it was made (ISO text).
        mode: ``adapt`` or ``retrain`` (from corrected centrelines).

    """

    name: str
    path: str
    parent: str = "default"
    raster: str = ""
    before: float | None = None
    after: float | None = None
    created: str = ""
    mode: str = "adapt"

    def label(self) -> str:
        """The model list's text.

        >>> AdaptedModel("dubai", "/m/dubai.safetensors", before=0.24, after=0.51).label()
        'Adapted: dubai (road IoU 0.24 → 0.51)'
        """
        text = tr("Adapted: {name}").format(name=self.name)
        if self.before is not None and self.after is not None:
            text += f" (road IoU {self.before:.2f} → {self.after:.2f})"
        return text

    def describe(self) -> str:
        """One line for the dialog: where it comes from and how it did.

        >>> AdaptedModel("d", "/m/d.safetensors", "default", "tile 1", 0.2, 0.5).describe()
        "Adapted from default on 'tile 1': road IoU on held-out roads 0.20 → 0.50."
        """
        start = "default" if self.parent in ("", "default") else _stem(self.parent)
        verb = tr("Retrained from corrections") if self.mode == "retrain" else tr("Adapted")
        text = tr("{verb} from {start} on {raster}").format(
            verb=verb, start=start, raster=repr(self.raster)
        )
        if self.before is not None and self.after is not None:
            text += tr(": road IoU on held-out roads {before:.2f} → {after:.2f}").format(
                before=self.before, after=self.after
            )
        return text + "."


def _stem(path: str) -> str:
    name = re.split(r"[\\/]", path)[-1]
    return name.rsplit(".", 1)[0] if "." in name else name


def models_from_text(text: str) -> list[AdaptedModel]:
    """Read the saved list (entries that do not parse are dropped).

    >>> m = AdaptedModel("a", "/m/a.safetensors", before=0.1, after=0.3)
    >>> models_from_text(models_to_text([m])) == [m]
    True
    >>> models_from_text("not json"), models_from_text('[{"name": "x"}]')
    ([], [])
    """
    try:
        raw = json.loads(text or "[]")
    except ValueError:
        return []
    out: list[AdaptedModel] = []
    fields = set(AdaptedModel.__dataclass_fields__)
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict) or not item.get("name") or not item.get("path"):
            continue
        try:
            out.append(AdaptedModel(**{k: v for k, v in item.items() if k in fields}))
        except TypeError:
            continue
    return out


def models_to_text(models: list[AdaptedModel]) -> str:
    """The list as JSON text (for QgsSettings)."""
    return json.dumps([asdict(m) for m in models], ensure_ascii=False)


def unique_model_name(name: str, taken: set[str]) -> str:
    """Return ``name``, or ``name 2``, ``name 3``… so no listed model is replaced.

    >>> unique_model_name("dubai", {"dubai", "dubai 2"})
    'dubai 3'
    """
    out, n = name.strip(), 1
    while out in taken:
        n += 1
        out = f"{name.strip()} {n}"
    return out


def replace_entry(models: list[AdaptedModel], entry: AdaptedModel) -> list[AdaptedModel]:
    """The list with ``entry`` added (an entry of the same name or file is replaced).

    >>> a, b = AdaptedModel("a", "/a.safetensors"), AdaptedModel("a", "/b.safetensors")
    >>> [m.path for m in replace_entry([a], b)]
    ['/b.safetensors']
    """
    kept = [m for m in models if m.name != entry.name and m.path != entry.path]
    return [*kept, entry]
