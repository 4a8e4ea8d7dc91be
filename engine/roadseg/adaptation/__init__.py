"""Adapting a road model to an area from roads the user already has, within a time budget.

The step's function is :func:`roadseg.adapt` (:func:`roadseg.adaptation.api.adapt`).

>>> import roadseg
>>> roadseg.adapt.__module__
'roadseg.adaptation.api'
"""
