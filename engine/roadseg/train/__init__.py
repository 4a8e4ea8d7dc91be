"""Training: streamed windows from big rasters, Lightning loop, a roadseg model file out.

>>> from roadseg.train import train                                  # doctest: +SKIP
>>> r = train(image=["a.tif"], labels=["roads.gpkg"], out="run", epochs=5)  # doctest: +SKIP
>>> r.model_path, r.metrics["miou"]                                  # doctest: +SKIP
"""

from roadseg.train.api import train
from roadseg.train.config import TrainConfig
from roadseg.train.rundir import TrainResult

__all__ = ["TrainConfig", "TrainResult", "train"]
