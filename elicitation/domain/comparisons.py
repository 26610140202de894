"""Bradley-Terry scores of generating models, as Chatbot Arena computes them. No Django.

Arena (`compute_mle_elo` in FastChat's elo_analysis.py) fits a logistic regression without
intercept or penalty on rows (+log 10 for model A, -log 10 for model B), where each win counts
twice and each tie (including "both bad") once in each direction, then reports
400 * coefficient + 1000. Intervals are percentiles over bootstrap resamples of the battles.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

SCALE, BASE, INIT_RATING = 400.0, 10.0, 1000.0
OUTCOMES = ("a", "b", "tie", "both_bad")
# The suffixes that name the two sides of a with/without comparison, and what they mean in words.
WITH_SYSTEM, WITHOUT_SYSTEM = "+system", "-system"
_SIDE_WORDS = {WITH_SYSTEM: "with the participant's system message", WITHOUT_SYSTEM: "without a system message"}


def model_label(model: str) -> str:
    """A generating model's recorded name in plain words ("local:m +system" -> "local:m, with the ...")."""
    name, _, suffix = model.rpartition(" ")
    return f"{name}, {_SIDE_WORDS[suffix]}" if name and suffix in _SIDE_WORDS else model


@dataclass(frozen=True)
class Battle:
    model_a: str
    model_b: str
    outcome: str  # one of OUTCOMES


@dataclass(frozen=True)
class Rating:
    model: str
    score: float
    lower: float  # 2.5th percentile over bootstrap rounds
    upper: float  # 97.5th percentile
    battles: int


def bradley_terry(battles: Sequence[Battle]) -> dict[str, float]:
    """Arena-scale scores (mean 1000 when balanced) from battles."""
    from sklearn.linear_model import LogisticRegression

    models = sorted({b.model_a for b in battles} | {b.model_b for b in battles})
    if len(models) < 2:
        return {m: INIT_RATING for m in models}
    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    wins = np.zeros((n, n))  # wins[i, j]: weight of "i beat j"
    for b in battles:
        i, j = index[b.model_a], index[b.model_b]
        if b.outcome == "a":
            wins[i, j] += 2
        elif b.outcome == "b":
            wins[j, i] += 2
        else:
            wins[i, j] += 1
            wins[j, i] += 1
    rows, labels, weights = [], [], []
    for i in range(n):
        for j in range(i + 1, n):
            if wins[i, j] + wins[j, i] == 0:
                continue
            x = np.zeros(n)
            x[i], x[j] = math.log(BASE), -math.log(BASE)
            rows += [x, x]
            labels += [1, 0]
            weights += [wins[i, j], wins[j, i]]
    y = np.array(labels)
    if len(set(y[np.array(weights) > 0])) < 2:  # one side never won: MLE is unbounded; add a pseudo-tie
        rows += [rows[0], rows[0]]
        labels += [1, 0]
        weights += [0.5, 0.5]
    model = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-8, max_iter=1000)  # no penalty, as Arena
    model.fit(np.array(rows), np.array(labels), sample_weight=np.array(weights))
    scores = SCALE * model.coef_[0]
    scores += INIT_RATING - scores.mean()  # anchor the mean, since only differences are identified
    return {m: float(scores[index[m]]) for m in models}


def leaderboard(battles: Sequence[Battle], *, rounds: int = 200, seed: int = 0) -> list[Rating]:
    """Scores with bootstrap 95% intervals, best first."""
    if not battles:
        return []
    point = bradley_terry(battles)
    rng = np.random.default_rng(seed)
    samples: dict[str, list[float]] = {m: [] for m in point}
    for _ in range(rounds):
        resample = [battles[i] for i in rng.integers(0, len(battles), len(battles))]
        for m, s in bradley_terry(resample).items():
            samples[m].append(s)
    counts = {m: 0 for m in point}
    for b in battles:
        counts[b.model_a] += 1
        counts[b.model_b] += 1
    ratings = [
        Rating(model=m, score=point[m], lower=float(np.percentile(samples[m], 2.5)) if samples[m] else point[m],
               upper=float(np.percentile(samples[m], 97.5)) if samples[m] else point[m], battles=counts[m])
        for m in point
    ]
    return sorted(ratings, key=lambda r: -r.score)
