"""Adapting a road model to an area from roads the user already has, within a time budget.

>>> from roadseg.adapt import adapt                                           # doctest: +SKIP
>>> r = adapt(["area.tif"], ["osm_roads.gpkg"], out="mine.safetensors", minutes=5)  # doctest: +SKIP
>>> r.before, r.after, r.kept                                                # doctest: +SKIP
"""

from roadseg._callable import callable_package
from roadseg.adapt.api import adapt
from roadseg.adapt.result import AdaptResult

__all__ = ["AdaptResult", "adapt"]

callable_package(__name__, adapt)
