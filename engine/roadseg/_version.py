"""The engine version (also the plugin's and the model-file writer's)."""

__version__ = "0.1.0"
