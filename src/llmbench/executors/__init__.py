"""What runs the tests the scheduler starts: ``local`` (this process's event loop, the default)
or ``ray`` (long-lived actors on a Ray cluster; :mod:`llmbench.executors.ray`).

The driver (plan, admission, journal, manifest, scoring, reports) stays in one process either
way: it is the single writer of the run directory.
"""
