"""Scoring: one scorer per module (``exact``, ``numeric``, ... ``judge``), the statistics, and
the analysis that turns scored records into ``summary.json`` (see ``docs/summary-format.md``).
"""
