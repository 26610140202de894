"""The policy server this host is configured with (CHORUS_POLICY_*), and whether a run that asks for
it can have it: checked before the run is queued, so a missing or dead server is said at once.

The worker builds the same PolicyServer from its own settings and hands it to the method in
RunInputs; training/methods/common/policies.py (no Django) talks to it.
"""
from __future__ import annotations

from typing import Any

from django.conf import settings

from training.methods.common.contract import PolicyServer
from training.methods.common.policies import BASE_URL_SETTING, PolicyServerError, served_model

PROBE_TIMEOUT_S = 3.0  # a form submit waits at most this long for the answer


def policy_server() -> PolicyServer | None:
    if not settings.CHORUS_POLICY_BASE_URL:
        return None
    return PolicyServer(base_url=settings.CHORUS_POLICY_BASE_URL, model=settings.CHORUS_POLICY_MODEL,
                        api_key=settings.CHORUS_POLICY_API_KEY, max_in_flight=settings.CHORUS_POLICY_MAX_IN_FLIGHT)


def policy_server_problem(config: Any) -> str:
    """Why a run with this (validated) config cannot use the policy server ("" if it can, or does
    not ask for it)."""
    if getattr(config, "policy_backend", "worker") != "openai":
        return ""
    if getattr(config, "policy_model", ""):
        return ("policy_model names a folder the worker would load; with policy_backend 'openai' the server's "
                "own model writes and judges, so leave policy_model empty.")
    server = policy_server()
    if server is None:
        return (f"policy_backend 'openai' needs a policy server, and {BASE_URL_SETTING} is not set on this "
                "server; set it to the OpenAI-compatible endpoint the GPU workers share (e.g. http://vllm:8000/v1).")
    try:
        served_model(server, timeout_s=PROBE_TIMEOUT_S)
    except PolicyServerError as error:
        return f"{str(error)[0].upper()}{str(error)[1:]}."
    return ""
