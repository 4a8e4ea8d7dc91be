"""roadseg: road mapping from aerial and satellite imagery.

``import roadseg`` stays fast (no torch). The public functions are gathered in
:mod:`roadseg.api`, one per step of the data flow, each in the subpackage named
after its step:

* :func:`roadseg.api.predict` (:mod:`roadseg.predict`) — class rasters (and
  probabilities, vectors) from imagery
* :func:`roadseg.api.vectorize` (:mod:`roadseg.vectorize`) — road polygons and
  centrelines from a class raster
* :func:`roadseg.api.evaluate` (:mod:`roadseg.evaluate`) — scores of a prediction
  against labels
* :func:`roadseg.api.train` (:mod:`roadseg.train`) — a model file from imagery and labels
* :func:`roadseg.api.make_scene` (:mod:`roadseg.synth`) — a synthetic scene (image and
  road vectors)
"""

from __future__ import annotations

from roadseg._version import __version__

__all__ = ["__version__"]
