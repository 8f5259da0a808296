"""Reports of a scored run: a terminal leaderboard, ``report.md`` and a one-file ``report.html``.

Every renderer takes the ``summary.json`` dict (``docs/summary-format.md``); the files also take
the run's compact results (:class:`~llmbench.scoring.scored.ScoredResult`, in run order) and a
``load(j)`` that reads the full scored record of result ``j`` back, asked only for the records a
report shows, so that reports are written a line or a record at a time:

- :mod:`llmbench.report.terminal`: ``leaderboard``, ``significant_differences``, ``print_report``
  and the number formats the other two share; the leaderboard fits the console's width by
  leaving columns out (:mod:`llmbench.report.fit`);
- :mod:`llmbench.report.markdown`: ``markdown_lines`` / ``render_markdown`` (the first
  ``MAX_FAILURES`` failures of each agent);
- :mod:`llmbench.report.html`: ``html_chunks`` / ``render_html`` (page skeleton in Python; the
  charts and the record table drawn by ``assets/report.js`` from an embedded JSON block of
  the chart specs and at most ``MAX_RECORDS`` records);
- :mod:`llmbench.report.charts`: ``chart_specs`` (Vega-Lite specs, data inline, from
  :mod:`llmbench.report.figures`), ``vendor_scripts`` and ``chart_css``: what report.html and
  ``llmbench view`` draw the charts with;
- :mod:`llmbench.report.write`: ``write_reports`` streams both files, atomically and scrubbed;
  ``in_memory`` adapts a list of scored records.
"""
