"""Bradley-Terry on synthetic battles with known strengths."""
import math

import numpy as np
import pytest

from elicitation.domain.comparisons import Battle, bradley_terry, leaderboard

TRUE = {"strong": 1200.0, "middle": 1000.0, "weak": 800.0}


def simulate(n, seed, tie_rate=0.0):
    rng = np.random.default_rng(seed)
    names = list(TRUE)
    battles = []
    for _ in range(n):
        a, b = rng.choice(names, 2, replace=False)
        p_a = 1 / (1 + 10 ** ((TRUE[b] - TRUE[a]) / 400))
        r = rng.random()
        outcome = "tie" if r < tie_rate else ("a" if rng.random() < p_a else "b")
        battles.append(Battle(str(a), str(b), outcome))
    return battles


def test_order_and_gaps_are_recovered():
    scores = bradley_terry(simulate(3000, seed=1))
    assert scores["strong"] > scores["middle"] > scores["weak"]
    assert scores["strong"] - scores["weak"] == pytest.approx(400, abs=60)


def test_a_hand_checkable_case():
    # A beats B 3 times, B beats A once: p = 3/4, so 400 * log10(3) apart, anchored at mean 1000.
    battles = [Battle("A", "B", "a")] * 3 + [Battle("A", "B", "b")]
    scores = bradley_terry(battles)
    assert scores["A"] - scores["B"] == pytest.approx(400 * math.log10(3), abs=0.5)
    assert (scores["A"] + scores["B"]) / 2 == pytest.approx(1000)


def test_ties_count_as_half_a_win_each_way():
    # 10% strength-blind ties shrink the 400-point gap to what p' = 0.9 p + 0.05 implies.
    scores = bradley_terry(simulate(4000, seed=2, tie_rate=0.1))
    p = 0.9 / (1 + 10 ** (-400 / 400)) + 0.05
    assert scores["strong"] - scores["weak"] == pytest.approx(400 * math.log10(p / (1 - p)), abs=50)


def test_ties_pull_scores_together():
    wins_only = bradley_terry([Battle("A", "B", "a")] * 3 + [Battle("A", "B", "b")])
    with_ties = bradley_terry([Battle("A", "B", "a")] * 3 + [Battle("A", "B", "b")] + [Battle("A", "B", "tie")] * 4)
    assert 0 < with_ties["A"] - with_ties["B"] < wins_only["A"] - wins_only["B"]


def test_intervals_cover_the_truth_at_roughly_their_nominal_rate():
    # Scores are anchored at a mean of 1000, as the true strengths are, so they compare directly.
    covered = total = 0
    for seed in range(12):
        for rating in leaderboard(simulate(300, seed=seed), rounds=50, seed=seed):
            total += 1
            covered += rating.lower <= TRUE[rating.model] <= rating.upper
    assert 0.8 <= covered / total <= 1.0, covered / total


def test_one_sided_record_stays_finite():
    scores = bradley_terry([Battle("A", "B", "a")] * 5)
    assert all(math.isfinite(s) for s in scores.values()) and scores["A"] > scores["B"]


def test_empty_and_single_model():
    assert leaderboard([]) == []
    assert bradley_terry([Battle("A", "A", "tie")]) == {"A": 1000.0}
