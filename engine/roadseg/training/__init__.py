"""Training: streamed windows from big rasters, Lightning loop, a roadseg model file out.

>>> from roadseg.training import train                                  # doctest: +SKIP
>>> r = train(image=["a.tif"], labels=["roads.gpkg"], out="run", epochs=5)  # doctest: +SKIP
>>> r.model_path, r.metrics["miou"]                                  # doctest: +SKIP
"""

from roadseg.training.api import train
from roadseg.training.config import TrainConfig
from roadseg.training.rundir import TrainResult

__all__ = ["TrainConfig", "TrainResult", "train"]
