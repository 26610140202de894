"""Run llama.cpp's OpenAI-compatible server on a GGUF file, for the openai backend's tests and benchmark.

    with llama_server(bundled_gguf(), model_alias="SmolLM2-135M-Instruct") as base_url:
        make_backend(InferenceConfig(backend="openai", base_url=base_url, model="SmolLM2-135M-Instruct"))

It is the one production-shaped endpoint that runs offline on a laptop CPU.
"""

from __future__ import annotations

import importlib.util
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from chorus.inference.base import BackendUnavailable, InferenceError

INSTALL_HINT = (
    "pip install --no-index --find-links /root/.cache/chorus/wheels llama-cpp-python, "
    "then pip install 'llama-cpp-python[server]' for its server dependencies"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def llama_server(
    gguf: Path,
    *,
    model_alias: str,
    n_ctx: int = 2048,
    n_threads: int | None = None,
    startup_timeout_s: float = 120.0,
) -> Iterator[str]:
    """Start the server, wait until it lists its model, yield its base URL, stop it on exit."""
    if importlib.util.find_spec("llama_cpp") is None:
        raise InferenceError(f"llama_cpp is not installed: {INSTALL_HINT}")
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--port", str(port)]
    command += ["--host", "127.0.0.1", "--n_ctx", str(n_ctx), "--model_alias", model_alias]
    if n_threads is not None:
        command += ["--n_threads", str(n_threads)]
    base_url = f"http://127.0.0.1:{port}/v1"
    # A file, not a pipe: a chatty server would block once a pipe nobody reads fills up.
    with tempfile.TemporaryFile(mode="w+") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        try:
            _wait_until_serving(process, base_url, model_alias, log, startup_timeout_s)
            yield base_url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _wait_until_serving(
    process: subprocess.Popen[bytes], base_url: str, model_alias: str, log: IO[str], timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BackendUnavailable(f"llama.cpp server exited with {process.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(f"{base_url}/models", timeout=2) as response:
                models = [m["id"] for m in json.load(response)["data"]]
            if model_alias in models:
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass  # still starting
        time.sleep(0.25)
    raise BackendUnavailable(f"llama.cpp server did not serve {base_url} within {timeout_s:.0f} s: {_tail(log)}")


def _tail(log: IO[str], lines: int = 15) -> str:
    log.seek(0)
    return " | ".join(log.read().strip().splitlines()[-lines:])
