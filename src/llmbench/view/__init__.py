"""``llmbench view``: a local web application over every run of a results directory.

An aiohttp server (on 127.0.0.1 unless told otherwise) whose pages list the runs, show one
run (its leaderboard, charts, records with their transcripts and the files the agents wrote)
while it runs and after, and compare the same tests across agents and runs. It only reads the
results directory, and serves nothing outside it.

- :mod:`~llmbench.view.runs`: the runs of a results directory, read leniently, ids checked;
- :mod:`~llmbench.view.index`: a run's journal indexed by byte offset, grown as it is written,
  so a page of 100,000 results is cut without reading them;
- :mod:`~llmbench.view.records`, :mod:`~llmbench.view.files`: one record in full, and the
  files an agent wrote, reached without following a symlink;
- :mod:`~llmbench.view.live`: progress, ETA and the concurrency in use, from the files alone;
- :mod:`~llmbench.view.compare`: the same tests side by side and the paired differences;
- :mod:`~llmbench.view.summary`: the report's tables as data (report.html's own builders);
- :mod:`~llmbench.view.app`, :mod:`~llmbench.view.serve`: the routes, headers and server.

``report.html`` stays the one file to mail around; the record view (``records.js``) and the
report's tables are shared with it.
"""
