"""How well deduplication finds the same value said in other words: pairwise precision, recall, F1.

2,000 cards in 400 known groups (5 cards each), made from templates: each group is 3-5 policy
concepts, each concept a plural noun and a qualifier, each with synonyms and rewordings; a card of
the group uses all or all but one of the concepts, in any order, with "she" or "the person". A
quarter of the groups are hard negatives: they keep the nouns of another group but change what
about them matters. Two groups never share more than one concept.

Rows, for each threshold (cosine distance on the sorted, newline-joined policies, as in production):
- candidates: every pair of cards under the threshold counts as "same" (the embedding stage alone).
- online, judge says yes: cards arrive one by one as in `card_deduplicate` and join the nearest
  canonical value under the threshold; this is production with a judge that always agrees.
- online, oracle judge: the same, but a STAND-IN judge that knows the true groups is asked about the
  MAX_JUDGED nearest values; the best production could do with a perfect judge at that threshold.
Then the real judge (the configured chat backend, the bundled SmolLM2-135M by default) is measured
on a sample of the pairs it would be asked at the production threshold, half same and half not: the
JSON answer (the judge before calibration, and still the fallback for backends without logprobs)
and the Yes/No log-probability margin, raw, minus the content-free lean (production), and minus the
lean in both card orders.

    .venv/bin/python bench/dedup.py [--judge-pairs 100]
"""
from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO_ROOT), str(REPO_ROOT / "platform")]
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.local")

import django

django.setup()

from elicitation.models import CanonicalCard
from elicitation.services.values import (
    DISTANCE_THRESHOLD,
    MAX_JUDGED,
    content_free_lean,
    embed_policies,
    judge_same_value,
    judge_same_value_json,
    nearest_candidates,
    yes_no_margin,
)

GROUPS, PER_GROUP, SEED = 400, 5, 0
P_HARD_NEGATIVE = 0.25  # a new group keeps another group's nouns and changes their qualifiers
P_DROP = 0.3  # a card of a 4- or 5-concept group leaves one concept out
P_OTHER_PERSON = 0.2  # a card says "the person" where the group says "she", or the other way round
THRESHOLDS = [0.15, 0.20, 0.25, 0.30, 0.35, 0.40, 0.45, 0.50]

NOUNS = [
    ("FEARS", "WORRIES", "ANXIETIES"), ("FACTS", "DETAILS", "INFORMATION"),
    ("CHOICES", "OPTIONS", "ALTERNATIVES"), ("MOMENTS", "TIMES", "OCCASIONS"),
    ("PEOPLE", "INDIVIDUALS", "FOLKS"), ("FEELINGS", "EMOTIONS", "SENTIMENTS"),
    ("RISKS", "DANGERS", "HAZARDS"), ("HOPES", "DREAMS", "ASPIRATIONS"),
    ("BELIEFS", "CONVICTIONS", "PRINCIPLES"), ("QUESTIONS", "QUERIES", "UNCERTAINTIES"),
    ("PRESSURES", "DEMANDS", "STRAINS"), ("RESOURCES", "MEANS", "SUPPLIES"),
    ("RELATIONSHIPS", "BONDS", "CONNECTIONS"), ("PLANS", "INTENTIONS", "GOALS"),
    ("MEMORIES", "RECOLLECTIONS", "REMEMBRANCES"), ("TRADITIONS", "CUSTOMS", "RITUALS"),
    ("SIGNS", "SIGNALS", "INDICATIONS"), ("CONSEQUENCES", "OUTCOMES", "EFFECTS"),
    ("STORIES", "ACCOUNTS", "NARRATIVES"), ("LIMITS", "BOUNDARIES", "LIMITATIONS"),
    ("NEEDS", "REQUIREMENTS", "NECESSITIES"), ("SKILLS", "ABILITIES", "CAPACITIES"),
    ("VOICES", "OPINIONS", "VIEWS"), ("PLACES", "SPACES", "SETTINGS"),
    ("HABITS", "ROUTINES", "PATTERNS"), ("MISTAKES", "ERRORS", "MISSTEPS"),
    ("PROMISES", "COMMITMENTS", "PLEDGES"), ("WORDS", "PHRASES", "EXPRESSIONS"),
    ("OPPORTUNITIES", "CHANCES", "OPENINGS"), ("STRENGTHS", "ASSETS", "GIFTS"),
]
# {S} subject, {O} object, {P} possessive, {R} reflexive: "she/her/her/herself" or "the person/.../themselves".
QUALIFIERS = [
    ("{S} has not said out loud", "{S} keeps to {R}", "that {S} has never put into words"),
    ("that shape {P} future", "that will decide where {P} life goes", "that determine what lies ahead for {O}"),
    ("{S} can rely on when things get hard", "that hold {O} up in difficult times", "{S} can lean on in a crisis"),
    ("that others impose on {O}", "coming from the people around {O}", "that family and friends put on {O}"),
    ("{S} might overlook in a hurry", "that are easy to miss when rushed", "{S} could miss when deciding quickly"),
    ("that give {O} a sense of control", "that let {O} feel in charge", "that make the decision feel like {P} own"),
    ("that connect {O} to {P} community", "linking {O} with the people {S} belongs with",
     "that tie {O} to a wider community"),
    ("that matter for {P} health", "that affect {P} physical wellbeing", "bearing on {P} body and health"),
    ("that could cause regret later if ignored", "{S} may be sorry to have dismissed",
     "that, if brushed aside, {S} would regret"),
    ("rooted in {P} faith", "that come from {P} religion", "grounded in what {P} church teaches"),
    ("about money and practical costs", "concerning finances and everyday expenses", "related to the cost of living"),
    ("that help {O} think clearly", "that bring clarity to {P} thinking", "that clear {P} head"),
    ("{S} shares with {P} partner", "that {S} and {P} partner have in common", "between {O} and {P} partner"),
    ("from {P} childhood", "that go back to when {S} was young", "carried from {P} early years"),
    ("that respect {P} dignity", "that honour {O} as a person", "that treat {O} with respect"),
    ("that are honest even when uncomfortable", "that tell the truth when it hurts",
     "that stay truthful despite discomfort"),
    ("that make room for grief", "that allow {O} to mourn", "where sadness is allowed"),
    ("that protect {P} privacy", "that keep {P} situation confidential", "that others cannot pry into"),
    ("that open new paths for {O}", "that create new possibilities for {O}", "through which new directions appear"),
    ("{S} has learned from experience", "that experience has taught {O}", "gained through what {S} has lived"),
    ("that ease {P} loneliness", "that make {O} feel less alone", "that break {P} isolation"),
    ("about {P} work and career", "concerning {P} job and professional life", "tied to how {S} earns a living"),
    ("that support {P} children", "that are good for {P} kids", "that help the children in {P} care"),
    ("that calm {P} mind", "that bring {O} peace", "that settle {P} nerves"),
    ("that challenge what {S} assumed", "that question {P} assumptions", "that unsettle what {S} took for granted"),
    ("that others in {P} position have faced", "that people in similar situations know",
     "shared by those who went through the same"),
    ("that build {P} confidence", "that make {O} feel capable", "that strengthen {P} belief in {R}"),
    ("{S} can act on today", "that are within reach right now", "that {S} can use immediately"),
    ("that keep {O} safe", "that protect {O} from harm", "that guard {P} safety"),
    ("that reflect who {S} wants to become", "in line with the person {S} hopes to be",
     "that fit the self {S} is growing into"),
]
PERSONS = [
    {"S": "she", "O": "her", "P": "her", "R": "herself"},
    {"S": "the person", "O": "the person", "P": "their", "R": "themselves"},
]

Concept = tuple[int, int]  # (noun index, qualifier index)


@dataclass(frozen=True)
class Card:
    group: int
    title: str
    description: str
    policies: list[str]

    def as_dict(self) -> dict:
        return {"title": self.title, "description": self.description, "policies": self.policies}


def make_groups(rng: random.Random) -> list[list[Concept]]:
    """GROUPS sets of 3-5 concepts, distinct nouns within a set, any two sets sharing at most one concept."""
    groups: list[list[Concept]] = []

    def fits(concepts: list[Concept]) -> bool:
        return len({n for n, _ in concepts}) == len(concepts) and all(
            len(set(concepts) & set(g)) <= 1 for g in groups)

    while len(groups) < GROUPS:
        if groups and rng.random() < P_HARD_NEGATIVE:
            base = rng.choice(groups)
            kept = rng.randrange(len(base))
            concepts = [c if i == kept else (c[0], rng.randrange(len(QUALIFIERS))) for i, c in enumerate(base)]
        else:
            nouns = rng.sample(range(len(NOUNS)), rng.choice([3, 4, 4, 5]))
            concepts = [(n, rng.randrange(len(QUALIFIERS))) for n in nouns]
        if fits(concepts):
            groups.append(concepts)
    return groups


def make_card(group: int, concepts: list[Concept], person: dict, rng: random.Random) -> Card:
    drop = len(concepts) > 3 and rng.random() < P_DROP
    used = rng.sample(concepts, len(concepts) - 1) if drop else concepts
    if rng.random() < P_OTHER_PERSON:
        person = PERSONS[1 - PERSONS.index(person)]
    nouns = [rng.choice(NOUNS[n]) for n, _ in used]
    policies = [f"{noun} {rng.choice(QUALIFIERS[q]).format(**person)}" for noun, (_, q) in zip(nouns, used)]
    rng.shuffle(policies)
    return Card(
        group=group,
        title=f"{nouns[0].title()} And {nouns[1].title()}",
        description=f"Paying attention to {policies[0].lower()} and {policies[1].lower()}.",
        policies=policies,
    )


def make_cards() -> list[Card]:
    rng = random.Random(SEED)
    cards = [
        make_card(g, concepts, person, rng)
        for g, (concepts, person) in enumerate((c, rng.choice(PERSONS)) for c in make_groups(rng))
        for _ in range(PER_GROUP)
    ]
    rng.shuffle(cards)  # arrival order
    return cards


@dataclass(frozen=True)
class Scores:
    precision: float
    recall: float
    f1: float

    @classmethod
    def of(cls, true_positive: int, predicted: int, actual: int) -> Scores:
        p = true_positive / predicted if predicted else 1.0
        r = true_positive / actual if actual else 1.0
        return cls(p, r, 2 * p * r / (p + r) if p + r else 0.0)

    def __str__(self) -> str:
        return f"{self.precision:5.3f} {self.recall:5.3f} {self.f1:5.3f}"


def same_group_pairs(labels: np.ndarray) -> np.ndarray:
    """(N, N) bool, upper triangle only: i < j and the two cards are of the same group."""
    return np.triu(labels[:, None] == labels[None, :], k=1)


def candidate_scores(distances: np.ndarray, truth: np.ndarray, threshold: float) -> Scores:
    predicted = np.triu(distances <= threshold, k=1)
    return Scores.of(int((predicted & truth).sum()), int(predicted.sum()), int(truth.sum()))


def online_clusters(vectors: np.ndarray, threshold: float, judge) -> tuple[np.ndarray, list[tuple[int, int]]]:
    """Cards arrive in order; each joins the first of the MAX_JUDGED nearest values under the threshold
    that `judge(card, founder)` accepts, else founds a new value (whose embedding is its own, as in
    `card_deduplicate`). Returns each card's value index and the (card, founder) pairs judged."""
    founders: list[int] = []
    matrix = np.empty_like(vectors)  # rows 0..len(founders)-1: the values' embeddings, (V, 384)
    assigned = np.empty(len(vectors), dtype=np.int64)
    asked: list[tuple[int, int]] = []
    for i, vector in enumerate(vectors):
        distances = 1.0 - matrix[: len(founders)] @ vector  # (V,)
        order = np.argsort(distances, kind="stable")
        candidates = [v for v in order if distances[v] <= threshold][:MAX_JUDGED]
        for v in candidates:
            asked.append((i, founders[v]))
            if judge(i, founders[v]):
                assigned[i] = v
                break
        else:
            assigned[i] = len(founders)
            matrix[len(founders)] = vector
            founders.append(i)
    return assigned, asked


def cluster_scores(assigned: np.ndarray, truth: np.ndarray) -> Scores:
    predicted = same_group_pairs(assigned)
    return Scores.of(int((predicted & truth).sum()), int(predicted.sum()), int(truth.sum()))


def check_mirror(vectors: np.ndarray, checked: int = 50) -> bool:
    """`online_clusters` re-implements `nearest_candidates` in bulk; check they agree on the first cards."""
    values = [CanonicalCard(embedding=[float(x) for x in v]) for v in vectors[: checked // 2]]
    for vector in vectors[checked // 2: checked]:
        service = [(values.index(c), round(d, 5)) for c, d in nearest_candidates(vector, values)]
        distances = 1.0 - vectors[: checked // 2] @ vector
        mirror = [(int(v), round(float(distances[v]), 5)) for v in np.argsort(distances, kind="stable")
                  if distances[v] <= DISTANCE_THRESHOLD]
        if service != mirror:
            return False
    return True


def real_judge_sample(cards: list[Card], asked: list[tuple[int, int]], size: int, rng: random.Random) -> None:
    """The judges on the same sampled pairs: the old JSON answer, and Yes/No log-probabilities read
    raw, calibrated (production), and calibrated in both card orders."""
    from django.conf import settings

    from chorus.inference import NotSupported
    from chorus.llm import chat_backend

    same = [p for p in asked if cards[p[0]].group == cards[p[1]].group]
    different = [p for p in asked if cards[p[0]].group != cards[p[1]].group]
    sample = rng.sample(same, min(size // 2, len(same))) + rng.sample(different, min(size - size // 2, len(different)))
    backend = chat_backend()
    print(f"\nReal judge ({settings.CHORUS_LLM_BACKEND}:{settings.CHORUS_LLM_MODEL}) on {len(sample)} of the "
          f"{len(asked)} pairs it would be asked at the production threshold {DISTANCE_THRESHOLD}:")
    truth = np.array([cards[a].group == cards[b].group for a, b in sample])
    print(f"  pairs: {int(truth.sum())} same value, {int((~truth).sum())} different values")
    first, second = cards[0].as_dict(), cards[1].as_dict()
    judge_same_value_json(backend, first, second)  # load the model outside the timing
    start = time.perf_counter()
    json_says = np.array([judge_same_value_json(backend, cards[a].as_dict(), cards[b].as_dict()) for a, b in sample])
    json_s = (time.perf_counter() - start) / len(sample)
    print(f"  {'judge':46} {'accuracy':>8} {'precision':>9} {'recall':>6} {'says same':>9} {'s/pair':>6}")
    _judge_row("JSON answer (before)", json_says, truth, json_s)
    try:
        lean = content_free_lean(backend)
    except NotSupported:
        print("  (this backend has no logprobs: production uses the JSON answer above)")
        return
    start = time.perf_counter()
    forward = np.array([yes_no_margin(backend, cards[a].as_dict(), cards[b].as_dict()) for a, b in sample])
    forward_s = (time.perf_counter() - start) / len(sample)
    backward = np.array([yes_no_margin(backend, cards[b].as_dict(), cards[a].as_dict()) for a, b in sample])
    assert judge_same_value(first, second) == (yes_no_margin(backend, first, second) > lean), "bench != service"
    print(f"  (content-free lean: log P(Yes) - log P(No) = {lean:+.3f}; margins on same pairs: mean "
          f"{forward[truth].mean():+.3f}, on different pairs: {forward[~truth].mean():+.3f})")
    _judge_row("Yes/No logprobs, raw: margin > 0", forward > 0, truth, forward_s)
    _judge_row("Yes/No logprobs - lean (production)", forward > lean, truth, forward_s)
    _judge_row("Yes/No logprobs - lean, both orders say same", (forward > lean) & (backward > lean), truth,
               2 * forward_s)


def _judge_row(name: str, says: np.ndarray, truth: np.ndarray, seconds: float) -> None:
    true_positive = int((says & truth).sum())
    precision = f"{true_positive / says.sum():9.3f}" if says.any() else f"{'n/a':>9}"
    print(f"  {name:46} {(says == truth).mean():8.3f} {precision} {true_positive / truth.sum():6.3f} "
          f"{says.mean():9.0%} {seconds:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge-pairs", type=int, default=100, help="pairs for the real judge (0: skip it)")
    args = parser.parse_args()

    start = time.perf_counter()
    cards = make_cards()
    labels = np.array([c.group for c in cards])
    truth = same_group_pairs(labels)
    print(f"{len(cards)} cards in {GROUPS} groups of {PER_GROUP} (seed {SEED}); "
          f"{int(truth.sum())} duplicate pairs of {len(cards) * (len(cards) - 1) // 2}; made in "
          f"{time.perf_counter() - start:.1f} s")
    print("  e.g.", " | ".join(cards[0].policies))

    embed_policies([cards[0].policies])  # load the model outside the timing
    start = time.perf_counter()
    vectors = embed_policies([c.policies for c in cards])  # (N, 384), unit rows
    embed_s = time.perf_counter() - start
    print(f"Embedding (all-MiniLM-L6-v2, CPU): {embed_s:.1f} s, {len(cards) / embed_s:.0f} cards/s")
    print(f"numpy mirror agrees with nearest_candidates: {'yes' if check_mirror(vectors) else 'NO'}")

    distances = 1.0 - vectors @ vectors.T  # (N, N)
    same_distances = distances[truth]
    other_distances = distances[np.triu(~truth, k=1)]
    print(f"Distance between duplicates: median {np.median(same_distances):.3f}, 90th pct "
          f"{np.percentile(same_distances, 90):.3f}; between different values: 1st pct "
          f"{np.percentile(other_distances, 1):.3f}, 0.1th pct {np.percentile(other_distances, 0.1):.3f}")

    print(f"\n{'':10} {'candidates (all pairs)':>23}   {'online, judge says yes':>29}   "
          f"{'online, oracle judge (stand-in)':>38}")
    print(f"{'threshold':10} {'P     R     F1':>23}   {'P     R     F1  values':>29}   "
          f"{'P     R     F1  values  asks/card':>38}")
    asked_at_production: list[tuple[int, int]] = []
    start = time.perf_counter()
    for threshold in sorted({*THRESHOLDS, DISTANCE_THRESHOLD}):
        yes, _ = online_clusters(vectors, threshold, lambda a, b: True)
        oracle, asked = online_clusters(vectors, threshold, lambda a, b: labels[a] == labels[b])
        if threshold == DISTANCE_THRESHOLD:
            asked_at_production = asked
        mark = " <- production" if threshold == DISTANCE_THRESHOLD else ""
        print(f"{threshold:<10.2f} {candidate_scores(distances, truth, threshold)!s:>23}   "
              f"{cluster_scores(yes, truth)!s:>22} {yes.max() + 1:6d}   "
              f"{cluster_scores(oracle, truth)!s:>24} {oracle.max() + 1:6d} {len(asked) / len(cards):10.2f}{mark}")
    print(f"(sweep of {len(THRESHOLDS)} thresholds x 2 online runs: {time.perf_counter() - start:.1f} s; "
          f"true number of values: {GROUPS})")

    if args.judge_pairs:
        real_judge_sample(cards, asked_at_production, args.judge_pairs, random.Random(SEED))


if __name__ == "__main__":
    main()
