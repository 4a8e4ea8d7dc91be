"""Area and time estimate shown before a run, and the configurable size limit."""

from __future__ import annotations

from dataclasses import dataclass

#: Assumed prediction throughput (megapixels at the model's resolution per second)
#: until the plugin has measured a run on this machine. CPU: Unet on 2 cores with
#: bf16; GPUs are far faster.
DEFAULT_THROUGHPUT_MPX_S: dict[str, float] = {"cpu": 0.5, "auto": 0.5, "cuda": 20.0, "mps": 3.0}
#: Fixed cost of a run (engine start with its torch import, model load, vectorisation
#: set-up, writing), seconds; measured 6 to 14 s for tiny rasters on a 2-core CPU.
STARTUP_S = 12.0
#: Default size limit in km² (Settings ▸ roadseg can change it).
DEFAULT_LIMIT_KM2 = 25.0


@dataclass(frozen=True)
class Estimate:
    """What a run will cost.

    Attributes:
        area_km2: Area to map.
        gsd_m: Ground resolution the model works at (m/px).
        megapixels: Pixels at that resolution, in millions.
        seconds: Expected wall time.
        limit_km2: Size limit (0 = none).
        measured: Whether ``seconds`` uses a throughput measured on this machine.
        device: Device the estimate is for.

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

    def text(self) -> str:
        """One line for the dialog.

        >>> estimate(1e6, 0.5, "cpu").text()
        'Area 1.00 km² · 4.0 Mpx at 0.5 m/px · about 20 s on cpu (assumed speed)'
        """
        how = "measured speed" if self.measured else "assumed speed"
        return (
            f"Area {self.area_km2:.2f} km² · {self.megapixels:.1f} Mpx at {self.gsd_m:g} m/px · "
            f"about {format_duration(self.seconds)} on {self.device} ({how})"
        )

    def limit_message(self) -> str:
        """Return the message shown when the area is too big."""
        return (
            f"The area to map ({self.area_km2:.1f} km²) is larger than the limit of "
            f"{self.limit_km2:g} km². Zoom in, select smaller polygons, or raise the limit in "
            "Plugins ▸ roadseg ▸ Settings."
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
        gsd_m: Model ground resolution (m/px), > 0.
        device: ``auto``/``cpu``/``cuda``/``mps``.
        throughput_mpx_s: Measured speed on this machine; None uses a default.
        limit_km2: Size limit in km² (0 disables it).

    >>> round(estimate(4e6, 1.0, "cuda").seconds, 1)
    12.2

    """
    gsd = gsd_m if gsd_m > 0 else 0.5
    mpx = area_m2 / (gsd * gsd) / 1e6
    measured = throughput_mpx_s is not None and throughput_mpx_s > 0
    rate = throughput_mpx_s if measured else DEFAULT_THROUGHPUT_MPX_S.get(device, 0.5)
    seconds = STARTUP_S + mpx / rate  # type: ignore[operator]
    return Estimate(area_m2 / 1e6, gsd, mpx, seconds, limit_km2, measured, device)


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
