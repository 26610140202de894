"""Value vectors of models (issue 11, item 1): ProgressGym's 19 dimensions from answer log-probabilities.

The tiny test Llama checks the arithmetic fast (the cached scoring equals plain full-sequence
scoring, orders and templates average out, ranges hold); the bundled SmolLM2 is scored on the real
item files (vendored from ProgressGym, compared with the copy in ../shared/data where present).
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from elicitation.domain import surveys as domain
from tests.support.shared_data import shared_data
from tests.support.tiny_models import build_tiny_llama
from training.progress import vectors
from training.progress.vectors import DIMENSIONS, ValueVector, value_vector


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"), seed=0)


def plain_logprob(model, prompt: list[int], answer: list[int]) -> float:
    """The answer's log-probability from one unpadded, uncached forward pass."""
    import torch

    ids = torch.tensor([prompt + answer])
    with torch.inference_mode():
        logp = torch.log_softmax(model(input_ids=ids).logits[0].float(), dim=-1)  # (T, V)
    return float(sum(logp[len(prompt) + j - 1, t] for j, t in enumerate(answer)))


def test_cached_batched_scoring_equals_plain_scoring(tiny_path):
    scorer = vectors._HFScorer(str(tiny_path), device="cpu")
    items = domain.select_items(max_items_per_dim=1)[:2] + domain.select_items(max_items_per_dim=1)[-1:]
    questions = [(scorer.prompt_ids(q.prompt), [scorer.answer_ids(a) for a in q.answers])
                 for q in vectors._questions(items)]
    got = scorer.question_logprobs(questions, batch_size=5)
    for (prompt, answers), scores in zip(questions, got, strict=True):
        assert len(scores) == len(answers)
        for answer, score in zip(answers, scores, strict=True):
            assert score == pytest.approx(plain_logprob(scorer.model, prompt, answer), abs=1e-3)
    scorer.close()


def test_each_item_is_asked_under_every_template_in_every_order():
    two, four = domain.select_items(max_items_per_dim=1)[0], domain.select_items(max_items_per_dim=1)[-1]
    asked = vectors._questions([two, four])
    assert len([q for q in asked if q.item == 0]) == 3 * 2  # ab, compare, repeat x both orders
    assert len([q for q in asked if q.item == 1]) == 2 * 4  # 4c_fav, repeat2_fav x four rotations
    for q in asked:
        item = (two, four)[q.item]
        shown = [item.options[k] for k in q.shown]
        assert all(option in q.prompt for option in shown)
        assert q.prompt.index(shown[0]) < q.prompt.index(shown[1])


def test_tiny_model_vector_has_every_dimension_in_range_and_round_trips(tiny_path):
    vector = value_vector(tiny_path, max_items_per_dim=1, batch_size=4)
    assert vector.dims == DIMENSIONS and len(DIMENSIONS) == 19
    assert vector.n_items == 15 + 4 and vector.counts == (1,) * 19
    assert np.all((vector.low <= vector.mean) & (vector.mean <= vector.high))
    assert np.all((0 <= vector.low) & (vector.high <= 1))
    assert vector.mean[15:].sum() == pytest.approx(1.0)  # one view item: its four options' probabilities
    back = ValueVector.from_json(vector.to_json())
    assert np.array_equal(back.mean, vector.mean) and back.dims == vector.dims


@pytest.mark.shared_data("progressgym", "ProgressGym's evaluation items")
def test_the_vendored_items_are_the_real_files_unchanged():
    for here, there in (("moralchoice.csv", "moralchoice/final.csv"), ("foundation.csv", "foundation/final.csv"),
                        ("views.csv", "views/final.csv"), ("template_ab.json", "question_templates/ab.json"),
                        ("template_abcd.json", "question_templates/abcd.json")):
        assert (domain.DATA_DIR / here).read_bytes() == shared_data(f"progressgym/{there}").read_bytes()


@pytest.mark.slow
def test_bundled_smollm2_on_the_real_items_gives_19_dims_in_range_and_the_same_twice():
    from django.conf import settings

    from chorus.inference.local import prepare_local_model

    model = prepare_local_model(settings.CHORUS_MODEL_CACHE).path
    first = value_vector(model, max_items_per_dim=1)
    second = value_vector(model, max_items_per_dim=1)
    assert first.dims == DIMENSIONS and len(first.mean) == 19
    assert not any(math.isnan(x) for x in first.mean)
    assert np.all((0 <= first.low) & (first.low <= first.mean) & (first.mean <= first.high) & (first.high <= 1))
    assert np.array_equal(first.mean, second.mean) and np.array_equal(first.low, second.low)
    assert np.array_equal(first.high, second.high)
