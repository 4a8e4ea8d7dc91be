"""Fixtures for the prediction tests (defined in predict_helpers)."""

from predict_helpers import dark_model, local_model, model_file, tiny_model  # noqa: F401
