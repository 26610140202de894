"""Deciding "same value?" without trusting a judge that guesses: the labelled pairs a judge is
calibrated on, the test of whether it beats a coin flip, and the thresholds embedding-only
deduplication uses (no Django, no database).

A judge is trusted when it answers the labelled pairs (half duplicates, so a coin flip scores
0.5) better than chance at ALPHA, by a one-sided exact binomial test. Otherwise cards are placed
by embedding distance alone: a card joins the nearest value within TIGHT_DISTANCE_THRESHOLD,
and every value between that and the loose DISTANCE_THRESHOLD waits for a curator.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from math import comb
from pathlib import Path

from elicitation.domain.values import DISTANCE_THRESHOLD

# bench/dedup.py on its 2,000 labelled cards (400 values, a quarter of them hard negatives): cards
# arriving one by one and joining the nearest value within the tight threshold, without a judge, are
# right 0.83 of the time at 0.15 (recall 0.08), 0.74 at 0.175 and 0.60 at 0.20; the tight threshold is
# the largest at which such merges are right at least 4 times in 5. docs/elicitation.md.
TIGHT_DISTANCE_THRESHOLD = 0.15
LOOSE_DISTANCE_THRESHOLD = DISTANCE_THRESHOLD
ALPHA = 0.05
PAIRS_FILE = Path(__file__).with_name("dedup_pairs.json")


@dataclass(frozen=True)
class LabelledPair:
    a: dict  # a card: title, description, policies
    b: dict
    same: bool
    distance: float  # cosine distance of the embedded policies


def labelled_pairs(path: Path = PAIRS_FILE) -> list[LabelledPair]:
    """The pairs the judge is calibrated on: what it would be asked in production (candidates within
    the loose threshold), half of them duplicates. Written by `bench/dedup.py --write-pairs`."""
    rows = json.loads(path.read_text())
    return [LabelledPair(a=r["a"], b=r["b"], same=bool(r["same"]), distance=float(r["distance"])) for r in rows]


def chance_p_value(correct: int, total: int) -> float:
    """P(at least `correct` right of `total`) for a coin flip: how likely the score is by luck alone."""
    if total == 0:
        return 1.0
    return sum(comb(total, k) for k in range(correct, total + 1)) / 2**total


def beats_chance(p_value: float | None) -> bool:
    return p_value is not None and p_value < ALPHA
