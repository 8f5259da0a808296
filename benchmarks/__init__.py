"""Reproducible speed and memory measurements of llmbench: ``python benchmarks/run.py``."""
