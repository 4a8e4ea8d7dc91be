"""The working resolution: the ground resolution (m/px) the network runs at.

By default a raster is resampled to the model's own ground resolution
(``ModelMeta.gsd_m``) before the network sees it. ``working_gsd`` runs the same model
at another resolution: finer than the model's (e.g. 0.4 m for a 0.5 m model) shows
the network roads wider in pixels, which can connect the centreline network better
on fine imagery at ``(model / working)²`` times the network pixels; it also corrects
imagery whose stated resolution is off. Tiles and overlap stay in pixels of the
working grid, and the outputs are brought back onto the raster's own grid as always.

Pure: numbers in, a number and notes out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from roadseg.errors import ConfigError, RoadsegWarning

#: Accepted working resolutions, as factors of the model's own (0.25 m to 1 m for a 0.5 m model).
MIN_FACTOR, MAX_FACTOR = 0.5, 2.0
#: Scale range assumed when the model file does not record its training scale jitter.
DEFAULT_JITTER = 0.3


def trained_jitter(training: Mapping[str, Any]) -> float | None:
    """The relative scale jitter a model was trained with, if its metadata records it.

    >>> trained_jitter({"scale_jitter": 0.3}), trained_jitter({}), trained_jitter({"scale_jitter": 2})
    (0.3, None, None)
    """
    value = training.get("scale_jitter")
    if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < 1:
        return float(value)
    return None


def resolve_working_gsd(
    model_gsd: float, requested: float | None, jitter: float | None = None
) -> tuple[float, list[RoadsegWarning]]:
    """The working resolution and notes for the user, checked against the model's resolution.

    Args:
        model_gsd: The model's ground resolution (m/px).
        requested: ``working_gsd`` (None: the model's own).
        jitter: The relative scale jitter the model was trained with (None: unknown, then
            :data:`DEFAULT_JITTER` decides when to warn).

    Returns:
        (working resolution in m/px, warnings): a warning when the resolution lies outside
        the scales the model saw in training.

    Raises:
        ConfigError: ``requested`` is outside :data:`MIN_FACTOR`–:data:`MAX_FACTOR` × the
            model's resolution.

    >>> resolve_working_gsd(0.5, None)
    (0.5, [])
    >>> resolve_working_gsd(0.5, 0.4)
    (0.4, [])
    >>> g, notes = resolve_working_gsd(0.5, 0.3, jitter=0.3)
    >>> g, str(notes[0])[:52]
    (0.3, 'working_gsd 0.3 m is outside the scales the model wa')
    >>> try:
    ...     resolve_working_gsd(0.5, 1.5)
    ... except ConfigError as e:
    ...     print(e.param, "|", e.message)
    working_gsd | `working_gsd` 1.5 m must be from 0.25 to 1 m (0.5-2x the model's 0.5 m)

    """
    if requested is None:
        return float(model_gsd), []
    g = float(requested)
    lo, hi = model_gsd * MIN_FACTOR, model_gsd * MAX_FACTOR
    if not lo * (1 - 1e-9) <= g <= hi * (1 + 1e-9):
        raise ConfigError(
            f"`working_gsd` {g:g} m must be from {lo:g} to {hi:g} m ({MIN_FACTOR:g}-"
            f"{MAX_FACTOR:g}x the model's {model_gsd:g} m)",
            param="working_gsd",
            value=requested,
            hint=f"e.g. `working_gsd` {model_gsd * 0.8:g}, or leave it out for the model's own",
        )
    j = DEFAULT_JITTER if jitter is None else jitter
    notes: list[RoadsegWarning] = []
    if abs(g / model_gsd - 1) > j + 1e-9:
        seen = (
            f"the scales the model was trained with (±{j:.0%})"
            if jitter is not None
            else f"±{j:.0%} of the model's resolution"
        )
        notes.append(
            RoadsegWarning(
                f"`working_gsd` {g:g} m is outside {seen}: {model_gsd * (1 - j):g} to "
                f"{model_gsd * (1 + j):g} m; check the result"
            )
        )
    return g, notes
