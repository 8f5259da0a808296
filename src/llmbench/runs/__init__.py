"""A whole run as a library call: what :func:`llmbench.run` and the command line both use.

The stages, each a module: ``plan`` loads and cross-checks the files, ``prepare`` narrows the
selection (or reopens a run to resume), ``preflight`` starts the embedded model and checks the
endpoints, ``manifest`` records what runs, ``lanes`` and ``tools`` build the scheduler's work,
``execute`` runs it while each result is journaled, ``finish`` scores and writes the summary
and the reports; ``api`` is the entry point and ``stored`` reads a run back.
"""
