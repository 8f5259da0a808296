#!/usr/bin/env python3
"""Run one test suite against several agents at once: ``python3 runner.py --help``.

The same as ``llmbench run`` once the package is installed (``bash scripts/install.sh``).
"""

import sys
from pathlib import Path

try:
    from llmbench.cli.run import main
except ModuleNotFoundError as exc:  # run from a checkout without installing the package
    if exc.name != "llmbench":
        raise
    sys.path.insert(0, str(Path(__file__).resolve().parent / "src"))
    from llmbench.cli.run import main

if __name__ == "__main__":
    sys.exit(main())
