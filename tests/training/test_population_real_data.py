"""What real preference data breaks in the personalised methods' shared code and VPL's sampling:
long multi-turn prompts cut off the response, few-pair people let VPL's encoder read the very pairs
it is asked to predict, and exact ties were counted as errors."""
from __future__ import annotations

import torch

from training.methods import vpl
from training.methods.common.population import Featuriser, PopulationScorer, PrefPair, format_text


def test_a_prompt_longer_than_max_length_still_leaves_the_responses_apart(tiny_model_dir):
    featuriser = Featuriser(str(tiny_model_dir), device="cpu", bf16=False, max_length=32)
    prompt = "Human: tell me about the weather. Assistant: it rains. " * 20  # far beyond 32 tokens
    chosen, rejected = featuriser([format_text(prompt, "Sure, here it is."), format_text(prompt, "No.")])
    assert not torch.allclose(chosen, rejected)


def test_vpl_never_reads_a_pair_it_is_asked_to_predict():
    counts = torch.tensor([2, 3, 5, 40, 200])
    generator = torch.Generator().manual_seed(0)
    for _ in range(50):
        context, context_mask, target, target_mask = vpl.draw_pairs(counts, 8, 8, generator)
        for i, n in enumerate(counts.tolist()):
            read, predicted = set(context[i][context_mask[i]].tolist()), set(target[i][target_mask[i]].tolist())
            assert read and predicted and not read & predicted
            assert len(read) == int(context_mask[i].sum()) and len(predicted) == int(target_mask[i].sum())
            assert max(read | predicted) < n
    # People with many pairs get the full context and targets; two pairs give one of each.
    assert context_mask[3].all() and target_mask[4].all() and context_mask[0].sum() == target_mask[0].sum() == 1


def test_vpl_trains_on_people_with_two_pairs_and_people_with_many():
    pairs = [PrefPair(f"u{u}", f"q{u}-{i}", f"good {u}-{i}", f"bad {u}-{i}") for u, n in ((0, 2), (1, 3), (2, 60))
             for i in range(n)]
    texts = sorted({format_text(p.prompt, r) for p in pairs for r in (p.chosen, p.rejected)})
    features = torch.tensor([[1.0 if " good " in f" {t.split('Response: ')[1]} " else -1.0, 0.1 * i]
                             for i, t in enumerate(texts)])
    config = vpl.Config(latent_dim=2, hidden_dim=8, context_pairs=4, target_pairs=4, users_per_batch=4, steps=60,
                        learning_rate=0.01)
    trained = vpl.fit_population(features, {t: i for i, t in enumerate(texts)}, pairs, config=config)
    assert trained.users == ["u0", "u1", "u2"] and trained.user_latents.shape == (3, 2)


class _Flat(PopulationScorer):
    def __init__(self) -> None:
        pass

    def rewards(self, params, items):
        return [0.0] * len(items)


def test_an_exact_tie_counts_as_a_coin_flip_not_an_error():
    pairs = [PrefPair("u", "q", "a", "b")] * 4
    assert _Flat().pair_accuracy([], pairs) == 0.5
