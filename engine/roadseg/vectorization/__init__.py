"""Vectorise class rasters: road polygons per class and a connected centreline network.

Public API::

    from roadseg.vectorization import vectorize
    result = vectorize("classes.tif", "roads.gpkg", graphml="roads.graphml")
    print(result.centerline_km, result.components)

Steps (see each module): :mod:`roadseg.geo.classraster` (the input format), :mod:`~.blocks`
(overlapping blocks), :mod:`~.skeleton` (mask → skeleton, width),
:mod:`~.pixelgraph` (skeleton → edges), :mod:`~.network` (merge, prune, bridge,
simplify), :mod:`~.polygons` (polygons per class), :mod:`~.output` (layers, GraphML).
"""

from roadseg.geo.classes import Classes
from roadseg.geo.classraster import ClassRaster, open_class_raster
from roadseg.vectorization.api import (
    ClassFigures,
    VectorizeResult,
    centerlines_from_source,
    vectorize,
)
from roadseg.vectorization.extract import ArraySource
from roadseg.vectorization.params import VectorizeOptions

__all__ = [
    "ArraySource",
    "ClassFigures",
    "ClassRaster",
    "Classes",
    "VectorizeOptions",
    "VectorizeResult",
    "centerlines_from_source",
    "open_class_raster",
    "vectorize",
]
