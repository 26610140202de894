"""The same model judging in-process and over HTTP gives the same SALMON verdicts.

The bundled SmolLM2-135M-Instruct twice: its HF folder (converted from the GGUF, dequantised to
float32) in this process through TransformersPolicy, and the GGUF itself (Q4_1) behind llama.cpp's
OpenAI-compatible server through OpenAIPolicy, which reads the first token's top_logprobs.
llama.cpp computes with the quantised weights, so the logprobs differ a little.

A SALMON verdict for one order of a pair is the sign of logp(A) - logp(B) once the judge's mean
margin (its lean towards "A") is removed (`salmon.label_pairs`). Measured on these 48 judgements
(and on 96): every raw preference the same ("A", always: the lean), |logprob gap| at most 0.32 and
0.08 on average, margins correlated at 0.98, the same calibrated verdict on 94% (92%), and every
verdict that differs within 0.2 of the line on both sides. The bounds below leave room for that.
"""
from __future__ import annotations

import statistics
from pathlib import Path

import numpy as np
import pytest

from chorus.inference.llama_server import llama_server
from chorus.inference.local import bundled_gguf
from training.methods import salmon, toys
from training.methods.common.contract import PolicyServer
from training.methods.common.policies import OpenAIPolicy, TransformersPolicy

LOGPROB_GAP_MAX = 0.5  # |in-process - served| for logp("A") and logp("B"), the largest
LOGPROB_GAP_MEAN = 0.15  # and on average
SAME_VERDICTS = 0.85  # the share of judgements with the same calibrated verdict
NEAR_THE_LINE = 0.5  # a verdict that differs must be this close to the line in both


@pytest.fixture(scope="module")
def bundled_model_dir() -> Path:
    from django.conf import settings

    from chorus.inference.local import prepare_local_model

    return prepare_local_model(settings.CHORUS_MODEL_CACHE).path


@pytest.fixture(scope="module")
def judged(bundled_model_dir) -> dict[str, dict[salmon.Query, tuple[float, float]]]:
    """logp("A"), logp("B") for every judging query, from each policy; asked once for the module."""
    queries = _queries()
    conversations = [[{"role": "user", "content": salmon.JUDGE_PROMPT.format(
        principle=q.principle, prompt=q.prompt, first=q.first, second=q.second)}] for q in queries]
    in_process = TransformersPolicy(str(bundled_model_dir), device="cpu", bf16=False)
    local = in_process.choice_logprobs(conversations, ["A", "B"])
    in_process.close()
    with llama_server(bundled_gguf(), model_alias="SmolLM2-135M-Instruct") as base_url:
        served = OpenAIPolicy(PolicyServer(base_url, max_in_flight=2))
        remote = served.choice_logprobs(conversations, ["A", "B"])
        served.close()
    return {"in-process": dict(zip(queries, map(tuple, local))), "served": dict(zip(queries, map(tuple, remote)))}


def _queries() -> list[salmon.Query]:
    """Both orders of 12 toy pairs under each of the two toy principles: 48 judgements."""
    return [salmon.Query(p.definition, pair.prompt, first, second)
            for pair in toys.principle_pairs(toys.TOPICS[:12], 1, seed=0) for p in toys.PRINCIPLES
            for first, second in ((pair.first, pair.second), (pair.second, pair.first))]


def test_choice_logprobs_agree_within_tolerance(judged):
    local, remote = judged["in-process"], judged["served"]
    gaps = [abs(a - b) for q in local for a, b in zip(local[q], remote[q])]
    print(f"{len(local)} judgements: |logprob gap| max {max(gaps):.3f} mean {statistics.mean(gaps):.3f}")
    assert max(gaps) <= LOGPROB_GAP_MAX and statistics.mean(gaps) <= LOGPROB_GAP_MEAN


def test_the_calibrated_verdicts_are_the_same(judged):
    margins = {name: np.array([a - b for a, b in scores.values()]) for name, scores in judged.items()}
    local, remote = (m - m.mean() for m in margins.values())  # each judge's own lean removed, as SALMON does
    same = (local > 0) == (remote > 0)
    correlation = np.corrcoef(local, remote)[0, 1]
    print(f"{len(same)} judgements: same verdict {same.mean():.0%}, margins correlated {correlation:.3f}")
    assert same.mean() >= SAME_VERDICTS and correlation >= 0.95
    assert np.all(np.abs(local[~same]) <= NEAR_THE_LINE) and np.all(np.abs(remote[~same]) <= NEAR_THE_LINE)
