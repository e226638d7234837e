"""Renderers: a Report as a terminal table, JSON, CSV or a pandas DataFrame."""
