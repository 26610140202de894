"""The transformers policy's chunks (no Django): any chunk size gives the same answers, and a chunk
that runs out of GPU memory is halved and tried again instead of failing the run."""
from __future__ import annotations

import pytest
import torch

from training.methods.common.policies import TransformersPolicy

CONVERSATIONS = [[{"role": "user", "content": f"Question {i}: how do I {'cook ' * (i % 4)}rice?"}] for i in range(10)]


@pytest.fixture(scope="module")
def policy(tiny_model_dir):
    return TransformersPolicy(str(tiny_model_dir), device="cpu", bf16=False)


def test_a_cpu_policy_reads_16_conversations_a_pass_and_the_chunk_does_not_change_the_scores(policy):
    assert policy.chunk == 16
    whole = policy.choice_logprobs(CONVERSATIONS, ["a", "b"])
    policy.chunk = 3
    try:
        chunked = policy.choice_logprobs(CONVERSATIONS, ["a", "b"])
    finally:
        policy.chunk = 16
    assert len(chunked) == len(whole) == 10
    assert torch.tensor(chunked) == pytest.approx(torch.tensor(whole), abs=1e-4)


def test_a_chunk_that_runs_out_of_gpu_memory_is_halved_and_the_answers_are_the_same(policy, monkeypatch):
    expected = policy.choice_logprobs(CONVERSATIONS, ["a", "b"])
    forward = policy.model.forward
    sizes: list[int] = []

    def small_memory(*args, **kwargs):
        rows = kwargs["input_ids"].shape[0]
        sizes.append(rows)
        if rows > 4:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")
        return forward(*args, **kwargs)

    monkeypatch.setattr(policy.model, "forward", small_memory)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    got = policy.choice_logprobs(CONVERSATIONS, ["a", "b"])
    assert sizes[:3] == [10, 8, 4] and policy.chunk == 4  # 16 -> 8 -> 4, and it stays there
    assert torch.tensor(got) == pytest.approx(torch.tensor(expected), abs=1e-4)
    assert len(policy.batch(CONVERSATIONS[:6], max_tokens=2)) == 6  # sampling goes through the same chunks

    def no_memory(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory (simulated)")

    monkeypatch.setattr(policy.model, "forward", no_memory)
    with pytest.raises(torch.cuda.OutOfMemoryError):  # one conversation that does not fit: the run's OOM hint
        policy.choice_logprobs(CONVERSATIONS[:1], ["a", "b"])
    assert policy.chunk == 1
