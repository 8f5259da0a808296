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
    EndpointError,
    InputError,
    Interrupted,
    LlmbenchError,
    ResultsError,
    SuiteError,
)
from llmbench.result import ExecutionProgress, TestResult

if TYPE_CHECKING:
    from llmbench.config.agent_config import AgentConfig
    from llmbench.config.base_config import BaseConfig
    from llmbench.report.frame import load_results
    from llmbench.runs.api import run, run_async
    from llmbench.runs.outcome import Run
    from llmbench.runs.progress import RunProgress
    from llmbench.scoring.scored_results import ScoredResults
    from llmbench.test_runner import TestRunner

__version__ = "0.1.0"

_LAZY = {
    "AgentConfig": "llmbench.config.agent_config",
    "BaseConfig": "llmbench.config.base_config",
    "Run": "llmbench.runs.outcome",
    "RunProgress": "llmbench.runs.progress",
    "run": "llmbench.runs.api",
    "run_async": "llmbench.runs.api",
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
    "AgentConfig",
    "BaseConfig",
    "ConfigError",
    "EmbeddedModelError",
    "EndpointError",
    "ExecutionProgress",
    "InputError",
    "Interrupted",
    "LlmbenchError",
    "ProgressCallback",
    "ResultsError",
    "Run",
    "RunProgress",
    "ScoredResults",
    "SuiteError",
    "TestResult",
    "TestRunner",
    "__version__",
    "load_results",
    "run",
    "run_async",
]
