"""Reports of a scored run: a terminal leaderboard, ``report.md`` and a one-file ``report.html``.

Every renderer takes the ``summary.json`` dict and, for the files, the list of scored records,
both as described in ``docs/summary-format.md``:

- :mod:`llmbench.report.terminal`: ``leaderboard``, ``significant_differences``, ``print_report``
  and the number formats the other two share;
- :mod:`llmbench.report.markdown`: ``render_markdown``;
- :mod:`llmbench.report.html`: ``render_html`` (page skeleton in Python, charts and the record
  table drawn by ``assets/report.js`` from an embedded JSON block);
- :mod:`llmbench.report.write`: ``write_reports`` writes both files, atomically and scrubbed.
"""
