"""Configuration: the runner's own settings, the suite metadata and the API settings."""

from llmbench.config.api import APIConfiguration
from llmbench.config.metadata import SuiteMetadata, load_metadata
from llmbench.config.runner_config import RunnerConfig, load_runner_config

__all__ = [
    "APIConfiguration",
    "RunnerConfig",
    "SuiteMetadata",
    "load_metadata",
    "load_runner_config",
]
