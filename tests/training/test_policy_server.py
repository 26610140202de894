"""The policy over HTTP (OpenAIPolicy) against a small loopback server that fails on purpose and
counts what it holds open; and runs that ask for it refused before queueing when it is missing."""
from __future__ import annotations

import math
import time
from dataclasses import asdict

import pytest
from django.core.exceptions import ValidationError

from chorus.inference.llama_server import free_port
from tests.support.policy_server import MODEL, FakePolicyServer
from training.methods.common.contract import PolicyServer
from training.methods.common.policies import OpenAIPolicy, PolicyServerError, load_policy, served_model
from training.methods.salmon import Config
from training.models import TrainingRun
from training.services.runs import run_create

QUESTION = [{"role": "user", "content": "Which is a fruit? A: an apple. B: a stone. Answer A or B."}]


def _chat_requests(server: FakePolicyServer) -> list[float]:
    return [seen.at for seen in server.requests]


@pytest.mark.parametrize("status", [503, 429, 0], ids=["503", "429", "dropped connection"])
def test_failed_requests_are_retried_until_one_answers(status):
    with FakePolicyServer(fail_first=2, fail_status=status) as server:
        policy = OpenAIPolicy(PolicyServer(server.base_url))
        (scores,) = policy.choice_logprobs([QUESTION], ["A", "B"])
    assert scores == pytest.approx([-0.5, -1.2])
    assert len(server.requests) == 3


def test_the_waits_between_retries_double():
    with FakePolicyServer(fail_first=3) as server:
        OpenAIPolicy(PolicyServer(server.base_url)).batch([QUESTION])
    arrivals = _chat_requests(server)
    gaps = [b - a for a, b in zip(arrivals, arrivals[1:])]
    # 0.5 s, 1 s, 2 s, each less up to 25% jitter: the ranges do not overlap.
    assert len(gaps) == 3 and 0.3 < gaps[0] < 0.7 and 0.7 < gaps[1] < 1.3 and 1.4 < gaps[2] < 2.5, gaps


def test_a_server_that_keeps_failing_fails_the_call_naming_the_setting():
    with FakePolicyServer(fail_first=1000) as server:
        policy = OpenAIPolicy(PolicyServer(server.base_url))
        started = time.monotonic()
        with pytest.raises(PolicyServerError, match="CHORUS_POLICY_BASE_URL") as error:
            policy.choice_logprobs([QUESTION], ["A", "B"])
    assert "503" in str(error.value) and time.monotonic() - started < 30
    assert len(server.requests) == OpenAIPolicy.RETRIES + 1


def test_a_refused_request_is_not_retried():
    with FakePolicyServer(fail_first=1000, fail_status=400) as server:
        with pytest.raises(PolicyServerError, match="refused the request: Error code: 400"):
            OpenAIPolicy(PolicyServer(server.base_url)).batch([QUESTION])
    assert len(server.requests) == 1


def test_at_most_max_in_flight_requests_are_open_and_replies_keep_their_order():
    conversations = [[{"role": "user", "content": f"question {i}"}] for i in range(20)]
    with FakePolicyServer(delay_s=0.15) as server:
        replies = OpenAIPolicy(PolicyServer(server.base_url, max_in_flight=3)).batch(conversations, seed=7,
                                                                                     temperature=0.9)
    assert replies == [f"echo: question {i}" for i in range(20)]
    assert server.most_open == 3
    # Each conversation its own seed: two copies of one prompt must be able to differ.
    seeds = {seen.body["messages"][-1]["content"]: seen.body["seed"] for seen in server.requests}
    assert seeds == {f"question {i}": 7 + i for i in range(20)}
    assert all(seen.body["model"] == MODEL for seen in server.requests)


def test_a_candidate_outside_the_top_logprobs_gets_the_mass_left_over():
    with FakePolicyServer(top_logprobs={"A": -0.5, "B": -1.2}) as server:
        (scores,) = OpenAIPolicy(PolicyServer(server.base_url)).choice_logprobs([QUESTION], ["A", "B", "C"])
    left = 1 - math.exp(-0.5) - math.exp(-1.2)
    assert scores == pytest.approx([-0.5, -1.2, math.log(left)])
    assert server.requests[0].body["top_logprobs"] == OpenAIPolicy.TOP_LOGPROBS
    assert server.requests[0].body["max_tokens"] == 1


def test_a_server_that_goes_away_mid_run_fails_the_call_within_a_minute():
    with FakePolicyServer() as server:
        policy = OpenAIPolicy(PolicyServer(server.base_url))
        policy.choice_logprobs([QUESTION], ["A", "B"])
    started = time.monotonic()  # stopped: connections are now refused
    with pytest.raises(PolicyServerError, match="stopped answering.*CHORUS_POLICY_BASE_URL"):
        policy.choice_logprobs([QUESTION] * 10, ["A", "B"])
    assert time.monotonic() - started < 60


def test_the_model_is_the_one_configured_or_the_only_one_served():
    with FakePolicyServer() as server:
        assert served_model(PolicyServer(server.base_url)) == MODEL
        assert served_model(PolicyServer(server.base_url, model=MODEL)) == MODEL
        with pytest.raises(PolicyServerError, match="does not serve 'other'.*CHORUS_POLICY_MODEL"):
            served_model(PolicyServer(server.base_url, model="other"))


def test_a_worker_without_a_policy_server_says_which_setting_to_set():
    with pytest.raises(PolicyServerError, match="CHORUS_POLICY_BASE_URL"):
        load_policy("unused", device="cpu", bf16=False, backend="openai", server=None)


# --- refused before queueing ------------------------------------------------------------------


def _openai_config(**overrides) -> dict:
    return {**asdict(Config.tiny()), "policy_backend": "openai", **overrides}


@pytest.mark.django_db
def test_a_run_for_the_server_is_refused_when_no_server_is_set(settings, toy_target, tiny_model_dir):
    settings.CHORUS_POLICY_BASE_URL = ""
    with pytest.raises(ValidationError) as error:
        run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_openai_config())
    assert "CHORUS_POLICY_BASE_URL is not set" in error.value.message_dict["config.policy_backend"][0]
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_run_for_the_server_is_refused_quickly_when_it_does_not_answer(settings, toy_target, tiny_model_dir):
    settings.CHORUS_POLICY_BASE_URL = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    started = time.monotonic()
    with pytest.raises(ValidationError) as error:
        run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_openai_config())
    message = error.value.message_dict["config.policy_backend"][0]
    assert "did not answer GET /models" in message and "CHORUS_POLICY_BASE_URL" in message, message
    assert time.monotonic() - started < 5 and not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_a_run_for_the_server_is_queued_when_it_answers(settings, toy_target, tiny_model_dir):
    with FakePolicyServer() as server:
        settings.CHORUS_POLICY_BASE_URL = server.base_url
        with pytest.raises(ValidationError) as error:  # a folder to load makes no sense with a server
            run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir),
                       config=_openai_config(policy_model=str(tiny_model_dir)))
        assert "leave policy_model empty" in error.value.message_dict["config.policy_backend"][0]
        run = run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config=_openai_config())
    assert run.status == "queued" and run.config["policy_backend"] == "openai"
