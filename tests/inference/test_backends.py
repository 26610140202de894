"""Choosing a backend, and the errors callers see before any model runs."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import pytest

from chorus.inference import (
    BackendUnavailable,
    GenerationParams,
    InferenceConfig,
    InferenceError,
    NotSupported,
    make_backend,
)
from chorus.inference.llama_server import free_port
from tests.conftest import REPO_ROOT
from tests.inference.conftest import FRANCE


def test_unknown_backend_is_refused_with_the_choices() -> None:
    with pytest.raises(InferenceError, match=r"unknown LLM backend 'llamafile'; choose one of local, openai, vllm"):
        make_backend(InferenceConfig(backend="llamafile"))


def test_unknown_generation_parameter_is_refused() -> None:
    with pytest.raises(InferenceError, match="max_new_tokens"):
        GenerationParams.from_kwargs({"max_new_tokens": 5})


def test_importing_the_package_loads_no_ml_library() -> None:
    code = (
        "import sys, chorus.inference, chorus.inference.local, chorus.inference.vllm_backend;"
        "print(sorted(m for m in ('torch', 'transformers', 'openai', 'vllm', 'xgrammar') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO_ROOT / "platform", capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize("call", ["complete", "stream"])
def test_unreachable_endpoint_raises_backend_unavailable_in_one_line(call: str) -> None:
    base_url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    backend = make_backend(InferenceConfig(backend="openai", base_url=base_url, model="any"))

    with pytest.raises(BackendUnavailable) as raised:
        if call == "complete":
            backend.complete(FRANCE, max_tokens=4)
        else:
            list(backend.stream(FRANCE, max_tokens=4))

    message = str(raised.value)
    assert "\n" not in message
    assert f"{base_url} is unreachable" in message and "Connection refused" in message
    assert "CHORUS_LLM_BASE_URL" in message


def test_openai_backend_says_it_cannot_score_candidates() -> None:
    backend = make_backend(InferenceConfig(backend="openai", base_url="http://127.0.0.1:1/v1", model="any"))

    with pytest.raises(NotSupported, match="'openai' backend cannot score"):
        backend.logprobs(FRANCE, ["Paris"])


@pytest.mark.skipif(importlib.util.find_spec("vllm") is not None, reason="vLLM is installed here")
def test_vllm_backend_without_vllm_says_how_to_install_it() -> None:
    backend = make_backend(InferenceConfig(backend="vllm", model="HuggingFaceTB/SmolLM2-135M-Instruct"))

    with pytest.raises(InferenceError, match=r"pip install \.\[gpu\]"):
        backend.complete(FRANCE)
