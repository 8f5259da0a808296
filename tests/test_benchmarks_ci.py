"""The quick benchmark (``benchmarks/run.py --quick``) passes its regression gates.

The gates are loose ratios and shares measured against the reference client in the same run,
so timing noise on a busy machine does not trip them; a gross regression in llmbench's CPU
use, throughput, memory growth, start-up or measurement accuracy does.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(660)
def test_quick_benchmark_passes_its_regression_gates() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "run.py"), "--quick"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    assert "client CPU per test" in done.stdout
