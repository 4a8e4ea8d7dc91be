"""Pure helpers of the plugin: standard library only, no QGIS, no engine imports.

Everything here can be unit-tested without a running QGIS; the ``gui`` and
``processing_provider`` packages wire these helpers to QGIS widgets and tasks.
"""
