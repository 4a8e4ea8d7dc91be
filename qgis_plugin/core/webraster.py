"""Web and virtual raster layers: the resolution they offer and the grid they are rendered on.

An XYZ, WMS or WMTS layer (QGIS provider ``wms``) or a virtual raster (provider
``virtualraster``) has no file the engine could read: the plugin renders it for the
area to map into a temporary GeoTIFF at the model's ground resolution, in a metric
CRS (the layer's own when it is projected in metres and not Mercator, else the UTM zone
of the area), and runs the engine on that. These helpers are the arithmetic: XYZ zoom
levels and their ground resolution, the zoom a resolution needs (never finer than the
layer's ``zmax``), the UTM zone, the grid size, and the line the dialog shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from urllib.parse import parse_qsl

from .estimate import fmt_gsd
from .i18n import tr

#: Providers whose layers are rendered to a GeoTIFF before a run.
RENDERED_PROVIDERS: tuple[str, ...] = ("wms", "virtualraster")
#: Web Mercator metres per pixel of a 256 px tile at zoom 0 (2π·6378137 / 256).
ZOOM0_M_PER_PX = 156543.03392804097
#: QGIS's maximum XYZ zoom when the layer source gives no ``zmax``.
QGIS_DEFAULT_ZMAX = 18
#: Relative slack when matching a zoom level to a resolution (0.5 m vs 0.48 m at zoom 18).
ZOOM_SLACK = 0.1


def source_params(source: str) -> dict[str, str]:
    """Return the ``key=value`` parameters of a QGIS web layer source (values unquoted).

    >>> p = source_params("type=xyz&url=file:///t/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax=17")
    >>> p["type"], p["url"], p["zmax"]
    ('xyz', 'file:///t/{z}/{x}/{y}.png', '17')
    """
    return dict(parse_qsl(source, keep_blank_values=True))


def xyz_zooms(source: str) -> tuple[int, int, float] | None:
    """Return an XYZ layer source's (zmin, zmax, tile pixel ratio); None if not XYZ.

    >>> xyz_zooms("type=xyz&url=https://t/%7Bz%7D/%7Bx%7D/%7By%7D.png&zmax=17&zmin=2")
    (2, 17, 1.0)
    >>> xyz_zooms("type=xyz&url=https://t/{z}/{x}/{y}.png&tilePixelRatio=2")
    (0, 18, 2.0)
    >>> xyz_zooms("contextualWMSLegend=0&crs=EPSG:4326&layers=a&url=https://w") is None
    True
    """
    params = source_params(source)
    if params.get("type") != "xyz":
        return None

    def number(key: str, default: float) -> float:
        try:
            return float(params.get(key, default))
        except ValueError:
            return default

    ratio = number("tilePixelRatio", 1.0)
    zmin = int(number("zmin", 0))
    zmax = int(number("zmax", QGIS_DEFAULT_ZMAX))
    return zmin, max(zmin, zmax), ratio if ratio > 0 else 1.0


def zoom_gsd_m(zoom: int, lat_deg: float, ratio: float = 1.0) -> float:
    """Return the ground size (m) of an XYZ pixel at a zoom level and latitude.

    >>> round(zoom_gsd_m(17, 36.2), 3), round(zoom_gsd_m(18, 0.0), 3)
    (0.964, 0.597)
    >>> round(zoom_gsd_m(18, 0.0, ratio=2.0), 3)
    0.299
    """
    return ZOOM0_M_PER_PX * math.cos(math.radians(lat_deg)) / (2**zoom) / ratio


def zoom_for_gsd(
    gsd_m: float, lat_deg: float, zmin: int = 0, zmax: int = QGIS_DEFAULT_ZMAX, ratio: float = 1.0
) -> int:
    """Return the coarsest zoom whose pixels are about ``gsd_m`` or finer, within zmin..zmax.

    The layer's ``zmax`` caps it: beyond it the layer has no finer tiles.

    >>> zoom_for_gsd(0.5, 36.2), zoom_for_gsd(0.5, 36.2, zmax=17), zoom_for_gsd(4.0, 36.2)
    (18, 17, 15)
    >>> zoom_for_gsd(0.5, 0.0, zmax=20)  # zoom 18 is 0.597 m there: over 10 % too coarse
    19
    """
    for zoom in range(zmin, zmax + 1):
        if zoom_gsd_m(zoom, lat_deg, ratio) <= gsd_m * (1 + ZOOM_SLACK):
            return zoom
    return zmax


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the WGS84 UTM zone of a point.

    >>> utm_epsg(-115.2, 36.2), utm_epsg(55.3, 25.2), utm_epsg(151.2, -33.9)
    (32611, 32640, 32756)
    """
    zone = int((lon + 180) // 6) % 60 + 1
    return (32600 if lat >= 0 else 32700) + zone


def grid_size(width_m: float, height_m: float, gsd_m: float) -> tuple[int, int]:
    """Return the pixels (columns, rows) that cover a rectangle at ``gsd_m`` (at least 1).

    >>> grid_size(128.0, 100.2, 0.5)
    (256, 201)
    """
    return max(1, math.ceil(width_m / gsd_m - 1e-6)), max(1, math.ceil(height_m / gsd_m - 1e-6))


@dataclass(frozen=True)
class Offer:
    """What a web or virtual layer offers over the area, and what it is rendered at.

    Attributes:
        kind: ``XYZ``, ``WMTS``, ``WMS`` or ``virtual``.
        offered_m: The layer's finest ground resolution there (m/px); None when a server
            draws at any resolution (WMS).
        render_m: The resolution it is rendered at (the model's); 0 while not known.
        zoom: The XYZ zoom used (the layer's ``zmax`` when the model needs finer).
        zmax: The layer's maximum zoom (XYZ).

    """

    kind: str
    offered_m: float | None
    render_m: float
    zoom: int | None = None
    zmax: int | None = None

    @property
    def coarser(self) -> bool:
        """Whether the layer has less detail than the model works at (it is upsampled)."""
        return (
            self.offered_m is not None
            and self.render_m > 0
            and self.offered_m > self.render_m * (1 + ZOOM_SLACK)
        )

    def text(self) -> str:
        """One line for the dialog.

        >>> Offer("XYZ", 0.964, 0.5, zoom=17, zmax=17).text()
        'XYZ layer: 0.96 m/px at its maximum zoom 17; rendered at 0.5 m/px (upsampled: no \
finer detail than the layer has)'
        >>> Offer("XYZ", 0.482, 0.5, zoom=18, zmax=19).text()
        'XYZ layer: 0.48 m/px at zoom 18 (maximum 19); rendered at 0.5 m/px'
        >>> Offer("WMS", None, 0.5).text()
        'WMS layer: drawn by its server at any resolution; rendered at 0.5 m/px'
        >>> Offer("virtual", 0.3, 0.0).text()
        "Virtual raster: 0.3 m/px; rendered at the model's resolution once it is known"
        """
        if self.kind == "XYZ" and self.offered_m is not None:
            if self.zoom == self.zmax:
                head = tr("XYZ layer: {gsd} m/px at its maximum zoom {zoom}")
            else:
                head = tr("XYZ layer: {gsd} m/px at zoom {zoom} (maximum {zmax})")
            head = head.format(gsd=fmt_gsd(self.offered_m), zoom=self.zoom, zmax=self.zmax)
        elif self.offered_m is None:
            head = tr("{kind} layer: drawn by its server at any resolution").format(kind=self.kind)
        elif self.kind == "virtual":
            head = tr("Virtual raster: {gsd} m/px").format(gsd=fmt_gsd(self.offered_m))
        else:
            head = tr("{kind} layer: {gsd} m/px at its finest level").format(
                kind=self.kind, gsd=fmt_gsd(self.offered_m)
            )
        if self.render_m <= 0:
            return head + "; " + tr("rendered at the model's resolution once it is known")
        tail = tr("rendered at {gsd} m/px").format(gsd=fmt_gsd(self.render_m))
        if self.coarser:
            tail += " " + tr("(upsampled: no finer detail than the layer has)")
        return head + "; " + tail


def xyz_offer(source: str, lat_deg: float, render_m: float) -> Offer | None:
    """Return what an XYZ source offers at a latitude for a model at ``render_m`` (None: not XYZ).

    >>> xyz_offer("type=xyz&url=f&zmax=17", 36.2, 0.5).text().split(";")[0]
    'XYZ layer: 0.96 m/px at its maximum zoom 17'
    """
    zooms = xyz_zooms(source)
    if zooms is None:
        return None
    zmin, zmax, ratio = zooms
    zoom = zoom_for_gsd(render_m, lat_deg, zmin, zmax, ratio) if render_m > 0 else zmax
    return Offer("XYZ", zoom_gsd_m(zoom, lat_deg, ratio), render_m, zoom, zmax)
