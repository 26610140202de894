"""SALMON on the real `gpu` worker with policy_backend "openai": the worker loads no policy and
writes and judges through the policy server its environment names (CHORUS_POLICY_BASE_URL, set by
the celery_workers fixture): here llama.cpp's server on the bundled GGUF, behind a recording proxy
that shows each request went over HTTP."""
from __future__ import annotations

import time
from dataclasses import asdict

import pytest

from chorus.inference.llama_server import llama_server
from chorus.inference.local import bundled_gguf
from tests.conftest import POLICY_SERVER_PORT, POLICY_SERVER_URL
from tests.support.policy_server import FakePolicyServer
from tests.support.private_services import wait_for
from training.methods.salmon import Config
from training.models import TrainingRun
from training.services.runs import run_create

pytestmark = pytest.mark.django_db(transaction=True)


def _config(**overrides) -> dict:
    return {**asdict(Config.tiny()), "policy_backend": "openai", "principles_per_example": 1, "max_steps": 10,
            "max_new_tokens": 16, "eval_fraction": 0.0, **overrides}


def _finished(pk: int):
    run = TrainingRun.objects.get(pk=pk)
    return run if run.is_finished else None


def test_a_salmon_run_writes_and_judges_through_the_policy_server(celery_workers, toy_target, tiny_model_dir,
                                                                  settings):
    with llama_server(bundled_gguf(), model_alias="SmolLM2-135M-Instruct") as upstream, \
            FakePolicyServer(upstream=upstream, port=POLICY_SERVER_PORT) as proxy:
        settings.CHORUS_POLICY_BASE_URL = POLICY_SERVER_URL
        run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_config())
        run = wait_for(lambda: _finished(run.pk), timeout=400, what="the run to finish", interval=0.5)
    assert run.status == "succeeded", f"{run.error}\n{run.log}"
    assert f"policy model loaded with the server at {POLICY_SERVER_URL} (SmolLM2-135M-Instruct)" in run.log
    written = [s.body for s in proxy.requests if not s.body.get("logprobs")]
    judged = [s.body for s in proxy.requests if s.body.get("logprobs")]
    prompts = toy_target.files.get(name="prompts.jsonl").rows
    assert len(written) == 2 * prompts  # two responses per prompt
    # Every judgement went to the server: both orders of each pair, one principle each.
    assert len(judged) == 2 * _pairs_written(run.log)
    assert all(b["max_tokens"] == 1 and b["top_logprobs"] == 20 for b in judged)
    assert run.summary["examples"] >= 1


def _pairs_written(log: str) -> int:
    line = next(line for line in log.splitlines() if "distinct response pairs" in line)
    return int(line.split("the policy wrote ")[1].split()[0])


def test_a_run_whose_policy_server_went_away_fails_at_once_naming_the_setting(celery_workers, toy_target,
                                                                              tiny_model_dir, settings):
    with FakePolicyServer() as answering:  # the check before queueing passes
        settings.CHORUS_POLICY_BASE_URL = answering.base_url
        run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_config())
    started = time.monotonic()  # nothing listens at the worker's POLICY_SERVER_URL
    run = wait_for(lambda: _finished(run.pk), timeout=90, what="the run to fail", interval=0.5)
    assert run.status == "failed" and "CHORUS_POLICY_BASE_URL" in run.error, run.error
    assert time.monotonic() - started < 60
