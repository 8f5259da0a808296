"""llmbench: benchmark LLMs served over OpenAI-compatible HTTP APIs.

The public API; everything else is importable from its subpackage but may change.
"""

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
from llmbench.report.frame import load_results
from llmbench.result import ExecutionProgress, TestResult
from llmbench.scoring.scored_results import ScoredResults
from llmbench.test_runner import TestRunner

__version__ = "0.1.0"

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
