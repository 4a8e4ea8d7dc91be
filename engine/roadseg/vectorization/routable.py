"""The centreline network as a routable graph: osmnx-style GraphML and a directed edge list.

Routing tools (osmnx, networkx shortest paths in osmnx's conventions) expect a
directed multigraph: every road is two edges, one each way, with ``length`` in
metres; nodes carry ``x``/``y`` in the graph's ``crs``. Attributes written:

* nodes: ``osmid`` (= the node id of the ``centerlines`` layer), ``x``, ``y``,
  ``street_count`` (roads meeting there);
* edges: ``osmid`` (the row of the ``centerlines`` layer), ``length`` (m),
  ``highway`` (an OSM-like road type from the class: major → ``primary``, minor →
  ``residential``, track → ``track``, other classes → ``road``), ``class``,
  ``width`` (m), ``oneway`` (False), ``reversed`` (True for the edge drawn against
  the line's direction), ``geometry`` (WKT, in the direction of travel).
"""

from __future__ import annotations

import os
from pathlib import Path

import geopandas as gpd
import networkx as nx
import shapely

from roadseg.geo.atomic import atomic_output

#: OSM ``highway`` values for roadseg's class names.
HIGHWAY = {"major": "primary", "minor": "residential", "track": "track", "road": "road"}


def highway_for(name: str) -> str:
    """OSM-like ``highway`` value of a class name.

    >>> highway_for("major"), highway_for("class_3")
    ('primary', 'road')
    """
    return HIGHWAY.get(name, "road")


def edge_list(lines: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Directed edges (both ways per line) with the routable attributes, in the lines' CRS."""
    rows = []
    for i, r in enumerate(lines.itertuples(index=False)):
        geom = lines.geometry.values[i]
        name = str(r[0])
        base = {
            "osmid": i,
            "key": 0,
            "length": float(r.length_m),
            "highway": highway_for(name),
            "class": name,
            "width": float(r.width_m),
            "oneway": False,
        }
        u, v = int(r.node_u), int(r.node_v)
        rows.append({**base, "u": u, "v": v, "reversed": False, "geometry": geom})
        rows.append({**base, "u": v, "v": u, "reversed": True, "geometry": shapely.reverse(geom)})
    cols = ["u", "v", "key", "osmid", "length", "highway", "class", "width", "oneway", "reversed"]
    if not rows:
        return gpd.GeoDataFrame({c: [] for c in cols}, geometry=gpd.GeoSeries([], crs=lines.crs))
    gdf = gpd.GeoDataFrame(rows, geometry="geometry", crs=lines.crs)
    # Parallel roads between the same two nodes get keys 0, 1, ... each way.
    gdf["key"] = gdf.groupby(["u", "v"]).cumcount()
    return gdf[[*cols, "geometry"]]


def routable_graph(lines: gpd.GeoDataFrame, crs_text: str | None) -> nx.MultiDiGraph:
    """The osmnx-style directed multigraph of the centreline layer (see the module docstring)."""
    g = nx.MultiDiGraph(crs=crs_text or "", created_with="roadseg")
    edges = edge_list(lines)
    first = shapely.get_coordinates(shapely.get_point(lines.geometry.values, 0))
    last = shapely.get_coordinates(shapely.get_point(lines.geometry.values, -1))
    for i, r in enumerate(lines.itertuples(index=False)):
        for n, xy in ((int(r.node_u), first[i]), (int(r.node_v), last[i])):
            g.add_node(n, osmid=n, x=float(xy[0]), y=float(xy[1]))
    for e in edges.itertuples(index=False):
        g.add_edge(
            int(e.u),
            int(e.v),
            key=int(e.key),
            osmid=int(e.osmid),
            length=float(e.length),
            highway=str(e.highway),
            **{"class": str(e[6])},
            width=float(e.width),
            oneway=bool(e.oneway),
            reversed=bool(e.reversed),
            geometry=e.geometry.wkt,
        )
    und = nx.MultiGraph(g.to_undirected(as_view=True))
    for n in g.nodes:
        g.nodes[n]["street_count"] = int(und.degree(n))
    return g


def write_routable_graphml(
    path: str | os.PathLike[str], lines: gpd.GeoDataFrame, crs_text: str | None
) -> Path:
    """Write :func:`routable_graph` as GraphML (atomically).

    Every attribute is written as text, as ``osmnx.save_graphml`` does, so
    ``osmnx.load_graphml`` restores the types (x, y, length, width floats; osmid,
    street_count ints; oneway, reversed booleans; geometry LineStrings).
    """
    g = routable_graph(lines, crs_text)
    for _, d in g.nodes(data=True):
        d.update({k: str(v) for k, v in d.items()})
    for *_, d in g.edges(keys=True, data=True):
        d.update({k: str(v) for k, v in d.items()})
    g.graph.update({k: str(v) for k, v in g.graph.items()})
    with atomic_output(path) as tmp:
        nx.write_graphml(g, str(tmp))
    return Path(path)


def write_edge_list(path: str | os.PathLike[str], lines: gpd.GeoDataFrame) -> Path:
    """Write :func:`edge_list` as a GeoPackage (``.gpkg``, layer ``edges``) or GeoJSON."""
    edges = edge_list(lines)
    p = Path(path)
    if p.suffix.lower() == ".gpkg":
        from roadseg.geo.vectors import write_gpkg

        write_gpkg(p, {"edges": edges}, geometry_types={"edges": "LineString"})
    else:
        with atomic_output(p) as tmp:
            edges.to_file(tmp, driver="GeoJSON")
    return p
