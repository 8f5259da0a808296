"""llmbench: benchmark LLMs served over OpenAI-compatible HTTP APIs.

The public API; everything else is importable from its subpackage but may change.
"""

import importlib
from typing import TYPE_CHECKING, Any

from llmbench.config.api import APIConfiguration
from llmbench.engine.callbacks import ProgressCallback
from llmbench.errors import (
    ConfigError,
    EmbeddedModelError,
    InputError,
    LlmbenchError,
    ResultsError,
    SuiteError,
)
from llmbench.result import ExecutionProgress, TestResult

if TYPE_CHECKING:
    from llmbench.report.frame import load_results
    from llmbench.scoring.scored_results import ScoredResults
    from llmbench.test_runner import TestRunner

__version__ = "0.1.0"

_LAZY = {
    "TestRunner": "llmbench.test_runner",
    "ScoredResults": "llmbench.scoring.scored_results",
    "load_results": "llmbench.report.frame",
}
"""Names imported when first used: the command line (``runner.py``) imports this package on its
way to ``llmbench.cli`` and never needs the Python API's scoring and reports before its first
request (PEP 562)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'llmbench' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "APIConfiguration",
    "ConfigError",
    "EmbeddedModelError",
    "ExecutionProgress",
    "InputError",
    "LlmbenchError",
    "ProgressCallback",
    "ResultsError",
    "ScoredResults",
    "SuiteError",
    "TestResult",
    "TestRunner",
    "__version__",
    "load_results",
]
