#!/usr/bin/env bash
# Install everything from the project's own files, then lint, type-check and run every test,
# the embedded-model integration tests included. CI (.ci/run) runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh dev
.venv/bin/ruff check src tests examples benchmarks
.venv/bin/ruff format --check src tests examples benchmarks
.venv/bin/mypy
.venv/bin/python -m pytest
