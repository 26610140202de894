"""The hard-EM mixture of linear Bradley-Terry rewards (training/methods/common/mixture.py) and PAL
started from it, on synthetic people (no Django, no model): two groups prefer opposite ends of one
feature, and a tenth of each person's labels are flipped."""
from __future__ import annotations

import random
from dataclasses import replace

import pytest
import torch

from training.methods import pal
from training.methods.common.mixture import fit_linear, hard_em, log_likelihoods
from training.methods.common.population import PrefPair, format_text

DIM = 5


def population(people: int = 16, pairs_each: int = 30, seed: int = 0):
    """(features (N, DIM), index text -> row, pairs, group of each person)."""
    rng = random.Random(seed)
    rows, index, pairs, groups = [], {}, [], {}
    for i in range(people):
        user, group = f"u{i:02d}", "ab"[i % 2]
        groups[user] = group
        for j in range(pairs_each):
            texts = []
            for side in range(2):
                text = format_text(f"q{i}-{j}", f"r{side}")
                index[text] = len(rows)
                rows.append([rng.gauss(0, 1) for _ in range(DIM)])
                texts.append(text)
            first = (rows[-2][0] > rows[-1][0]) == (group == "a")
            if rng.random() < 0.1:
                first = not first
            chosen, rejected = texts if first else texts[::-1]
            pairs.append(PrefPair(user, f"q{i}-{j}", chosen.split("Response: ")[1], rejected.split("Response: ")[1]))
    return torch.tensor(rows), index, pairs, groups


def diffs(features, index, pairs):
    users = sorted({p.user for p in pairs})
    chosen = torch.tensor([index[format_text(p.prompt, p.chosen)] for p in pairs])
    rejected = torch.tensor([index[format_text(p.prompt, p.rejected)] for p in pairs])
    who = torch.tensor([users.index(p.user) for p in pairs])
    return features[chosen] - features[rejected], who, users


def test_hard_em_finds_the_two_groups_without_their_labels():
    features, index, pairs, groups = population()
    diff, who, users = diffs(features, index, pairs)
    found = hard_em(diff, who, len(users), heads=2, l2=0.01, seed=0)
    clusters = {(groups[u], int(found.cluster[i])) for i, u in enumerate(users)}
    assert len(clusters) == 2 and len({c for _, c in clusters}) == 2  # each group one cluster, apart
    a = next(c for g, c in clusters if g == "a")
    assert found.heads[a, 0] > 0 > found.heads[1 - a, 0]
    # The likelihood it keeps is everyone's under their own head, and beats one head for all.
    one = fit_linear(diff, l2=0.01)
    assert found.log_likelihood > float(log_likelihoods(one[None], diff, who, len(users)).sum()) + 50


def test_a_head_more_than_there_are_groups_still_gives_everyone_a_head_of_their_own_group():
    features, index, pairs, groups = population()
    diff, who, users = diffs(features, index, pairs)
    found = hard_em(diff, who, len(users), heads=3, l2=0.01, seed=1)
    for i, u in enumerate(users):  # whatever the clusters, each person's head prefers their group's end
        assert (found.heads[found.cluster[i], 0] > 0) == (groups[u] == "a")


def test_pal_started_from_the_mixture_scores_like_its_linear_rewards_before_any_training_step():
    features, index, pairs, groups = population()
    config = pal.Config(prototypes=2, dim=4, steps=0, em_l2=0.01)
    trained = pal.fit_population(features, index, pairs, config=config)
    x = (features - trained.mean) / trained.std
    diff, who, users = diffs(x, index, pairs)
    found = hard_em(diff, who, len(users), heads=2, l2=0.01, seed=0)
    weights = torch.softmax(trained.head.user_logits.detach(), -1)  # (U, K)
    assert ((weights.max(1).values > 0.99).float().mean()) == 1.0  # 30 pairs each: everyone placed firmly
    chosen = torch.tensor([index[format_text(p.prompt, p.chosen)] for p in pairs])
    rejected = torch.tensor([index[format_text(p.prompt, p.rejected)] for p in pairs])
    with torch.no_grad():
        margins = trained.head.reward(x[chosen], weights[who]) - trained.head.reward(x[rejected], weights[who])
    linear = (diff * found.heads[weights.argmax(1)[who]]).sum(1)
    assert float((margins.sign() == linear.sign()).float().mean()) >= 0.99
    assert float((margins > 0).float().mean()) >= 0.85  # the 10% flipped labels are what it gets wrong

    # Without the start (or with no room for it) and no training step, nothing would train: refused.
    for change in ({"em_restarts": 0}, {"dim": 1}):
        with pytest.raises(ValueError, match="nothing would train"):
            pal.fit_population(features, index, pairs, config=replace(config, **change))


def test_someone_new_is_placed_by_their_posterior_starting_from_the_populations_mix():
    features, index, pairs, groups = population()
    trained = pal.fit_population(features, index, [p for p in pairs if p.user != "u00"],
                                 config=pal.Config(prototypes=2, dim=4, em_l2=0.01))
    scorer = pal.PalScorer(trained, featuriser=None)
    scorer.remember(list(index), features)
    population_mix = torch.softmax(trained.head.user_logits.detach(), -1).mean(0)
    assert torch.allclose(torch.tensor(scorer.fit_user([])), population_mix, atol=1e-6)
    newcomer = [(p.prompt, p.chosen, p.rejected) for p in pairs if p.user == "u00"]  # group "a"
    a = int(torch.softmax(trained.head.user_logits.detach(), -1)[0].argmax())  # u01 is trained row 0, group "b"
    weights = [scorer.fit_user(newcomer[:n]) for n in (1, 8)]
    assert weights[1][1 - a] >= 0.95  # eight pairs place them firmly with their group
    assert population_mix[1 - a] < weights[0][1 - a] < weights[1][1 - a]  # and each pair moves them further
    held_out = [PrefPair("u00", *t) for t in newcomer[8:]]
    assert scorer.pair_accuracy(weights[1], held_out) >= 0.8


def test_a_tie_between_two_rewards_counts_as_half_a_pair():
    from training.methods.common.splits import pair_wins

    assert pair_wins([1.0, 0.0, 0.5], [0.0, 1.0, 0.5]) == [1, 0, 0.5]
