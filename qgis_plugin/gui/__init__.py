"""QGIS side of the plugin: dialog, settings, background task, result layers."""
