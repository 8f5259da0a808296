"""``llmbench convert``: write the suite JSON that a base config's ``[benchmark.dataset]``
becomes (every row; ``test_cases`` and ``categories`` do not apply).

The suite goes to ``-o FILE`` or to stdout, and only once every row has become a valid test:
a bad row leaves no half-written file and prints nothing on stdout (exit 2).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from llmbench.cli.exits import EXIT_OK, run_reporting_errors
from llmbench.config.base_config import load_base_config
from llmbench.errors import ConfigError, ResultsError
from llmbench.runs.plan import check_dataset_scoring
from llmbench.suite.dataset import convert_dataset


def add_convert_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``llmbench convert``."""
    parser.add_argument(
        "--base_config",
        default="base_config.toml",
        help="the base config whose [benchmark.dataset] to convert (default: %(default)s)",
    )
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the suite to FILE (default: stdout)"
    )


def convert_command(args: argparse.Namespace) -> int:
    """Run ``llmbench convert``; returns the exit code."""
    return run_reporting_errors(lambda: _convert(Path(args.base_config), args.output))


def _convert(base_path: Path, output: str | None) -> int:
    base = load_base_config(base_path)
    dataset = base.benchmark.dataset
    if dataset is None:
        raise ConfigError(
            "[benchmark]: no [benchmark.dataset] to convert; test_suite is a suite file already",
            path=base_path,
        )
    check_dataset_scoring(base, base_path)
    if output is None:
        with tempfile.TemporaryFile("w+", encoding="utf-8") as fh:
            convert_dataset(dataset, base_path, fh)
            fh.seek(0)
            shutil.copyfileobj(fh, sys.stdout)
        sys.stdout.flush()
        return EXIT_OK
    target = Path(output)
    partial = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        with partial.open("w", encoding="utf-8") as fh:
            count = convert_dataset(dataset, base_path, fh)
        os.replace(partial, target)
    except OSError as exc:
        raise ResultsError(f"{target}: cannot write the suite: {exc.strerror or exc}") from None
    finally:
        partial.unlink(missing_ok=True)
    print(f"wrote {count} tests to {target}", file=sys.stderr)
    return EXIT_OK
