"""Area and time estimate shown before a run, and the size limit (dialog and Processing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .i18n import tr

#: Assumed prediction throughput (megapixels at the model's resolution per second)
#: until the plugin has measured a run on this machine. CPU: Unet on 2 cores with
#: bf16; GPUs are far faster.
DEFAULT_THROUGHPUT_MPX_S: dict[str, float] = {"cpu": 0.5, "cuda": 20.0, "mps": 3.0}
#: Fixed cost of a run (engine start with its torch import, model load, vectorisation
#: set-up, writing), seconds; measured 6 to 14 s for tiny rasters on a 2-core CPU.
STARTUP_S = 12.0
#: Default size limit in km² (Settings and the Processing parameter can change it).
DEFAULT_LIMIT_KM2 = 25.0


def fmt_gsd(gsd_m: float) -> str:
    """Return a ground resolution for people: at most two decimals, no trailing zeros.

    >>> fmt_gsd(0.5), fmt_gsd(0.300564), fmt_gsd(0.15), fmt_gsd(10.0)
    ('0.5', '0.3', '0.15', '10')
    """
    text = f"{gsd_m:.2f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass(frozen=True)
class Estimate:
    """What a run will cost.

    Attributes:
        area_km2: Area to map.
        gsd_m: Ground resolution the model works at (m/px); 0 while it is not known.
        megapixels: Pixels at that resolution, in millions (0 while ``gsd_m`` is unknown).
        seconds: Expected wall time (0 while ``gsd_m`` is unknown).
        limit_km2: Size limit (0 = none).
        measured: Whether ``seconds`` uses a throughput measured on this machine.
        device: Device the estimate is for (``cpu``, ``cuda``, ``mps``).

    """

    area_km2: float
    gsd_m: float
    megapixels: float
    seconds: float
    limit_km2: float
    measured: bool = False
    device: str = "cpu"

    @property
    def over_limit(self) -> bool:
        """Whether the area exceeds the size limit.

        >>> estimate(30e6, 0.5, "cpu", limit_km2=25).over_limit
        True
        """
        return self.limit_km2 > 0 and self.area_km2 > self.limit_km2

    @property
    def known(self) -> bool:
        """Whether the model's resolution, hence pixels and time, is known."""
        return self.gsd_m > 0

    def text(self) -> str:
        """One line for the dialog.

        >>> estimate(1e6, 0.5, "cpu").text()
        'Area 1.00 km² · 4.0 Mpx at 0.5 m/px · about 20 s on cpu (assumed speed)'
        >>> estimate(1e6, 0.0, "cpu").text()
        "Area 1.00 km² · time: waiting for the model's resolution…"
        """
        area = tr("Area {area:.2f} km²").format(area=self.area_km2)
        if not self.known:
            return area + " · " + tr("time: waiting for the model's resolution…")
        how = tr("measured speed") if self.measured else tr("assumed speed")
        return (
            area
            + " · "
            + tr("{mpx:.1f} Mpx at {gsd} m/px · about {time} on {device} ({how})").format(
                mpx=self.megapixels,
                gsd=fmt_gsd(self.gsd_m),
                time=format_duration(self.seconds),
                device=self.device,
                how=how,
            )
        )

    def limit_message(self, how_to_raise: str = "") -> str:
        """Return the message shown when the area is too big."""
        return tr(
            "The area to map ({area:.1f} km²) is larger than the limit of {limit:g} km². Zoom "
            "in, select smaller polygons, or raise the limit {how}."
        ).format(
            area=self.area_km2,
            limit=self.limit_km2,
            how=how_to_raise or tr("in Plugins ▸ roadseg ▸ Settings"),
        )


def estimate(
    area_m2: float,
    gsd_m: float,
    device: str,
    throughput_mpx_s: float | None = None,
    limit_km2: float = DEFAULT_LIMIT_KM2,
) -> Estimate:
    """Estimate pixels and time for an area mapped at ``gsd_m``.

    Args:
        area_m2: Area in square metres.
        gsd_m: Model ground resolution (m/px); 0 or less when not known yet.
        device: The device that will run (``cpu``/``cuda``/``mps``; not ``auto``).
        throughput_mpx_s: Measured speed on this machine; None uses a default.
        limit_km2: Size limit in km² (0 disables it).

    >>> round(estimate(4e6, 1.0, "cuda").seconds, 1)
    12.2

    """
    if gsd_m <= 0:
        return Estimate(area_m2 / 1e6, 0.0, 0.0, 0.0, limit_km2, False, device)
    mpx = area_m2 / (gsd_m * gsd_m) / 1e6
    measured = throughput_mpx_s is not None and throughput_mpx_s > 0
    rate = throughput_mpx_s if measured else DEFAULT_THROUGHPUT_MPX_S.get(device, 0.5)
    seconds = STARTUP_S + mpx / rate  # type: ignore[operator]
    return Estimate(area_m2 / 1e6, gsd_m, mpx, seconds, limit_km2, measured, device)


def measured_throughput(megapixels: float, seconds: float) -> float | None:
    """Speed of a finished run (Mpx/s) net of the start-up cost; None if too short to tell.

    >>> measured_throughput(10.0, 32.0)
    0.5
    >>> measured_throughput(0.1, 3.0) is None
    True
    """
    work = seconds - STARTUP_S
    if megapixels < 0.5 or work <= 1.0:
        return None
    return round(megapixels / work, 3)


def learned_rate(result: Mapping[str, Any]) -> tuple[float, float] | None:
    """(Mpx/s, Mpx) of a finished ``roadseg predict --json`` run at the working resolution.

    :func:`estimate` counts pixels at the resolution the network runs at, so the speed it
    learns must count the same pixels: each raster's ``working_shape`` over the engine's
    ``predict_seconds``, not the output megapixels (which differ whenever the raster's
    resolution is not the working one). None when the result does not say.

    >>> r = {"metrics": {"predict_seconds": 10.0}, "rasters": [{"working_shape": [2000, 2500]}]}
    >>> learned_rate(r)
    (0.5, 5.0)
    >>> learned_rate({"metrics": {"predict_seconds": 10.0}, "rasters": []}) is None
    True
    """
    metrics = result.get("metrics")
    rasters = result.get("rasters")
    if not isinstance(metrics, Mapping) or not isinstance(rasters, list) or not rasters:
        return None
    seconds = metrics.get("predict_seconds")
    total = 0
    for item in rasters:
        shape = item.get("working_shape") if isinstance(item, Mapping) else None
        if not (isinstance(shape, list) and len(shape) == 2):
            return None
        total += int(shape[0]) * int(shape[1])
    if not isinstance(seconds, int | float) or seconds <= 0 or total <= 0:
        return None
    mpx = total / 1e6
    return round(mpx / float(seconds), 4), mpx


def format_duration(seconds: float) -> str:
    """Return a human duration.

    >>> format_duration(42), format_duration(170), format_duration(7300)
    ('42 s', '3 min', '2 h 2 min')
    """
    s = max(0, int(round(seconds)))
    if s < 90:
        return f"{s} s"
    minutes = int(round(s / 60))
    if minutes < 120:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"
