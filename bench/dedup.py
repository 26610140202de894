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
lean in both card orders; with the binomial test production uses to decide whether to trust it.

Last, the two modes of production side by side (`elicitation.domain.dedup`), online:
- judge mode: candidates within the loose threshold go to a judge that says "same" on duplicates and
  on different values as often as the real judge just did (a stand-in with its measured rates);
- embedding-only mode: a card joins the nearest value within the tight threshold, and the candidates
  between the two thresholds are queued for a curator; scored as placed automatically, and as placed
  once a curator has decided every queued pair rightly.

--cards FILE replaces the generated cards with labelled real ones: a JSON array (or JSON lines) of
cards with `title`, `description` (or `instructionsShort`), `policies` (or `evaluationCriteria`) and
the value they belong to (`canonicalCardId`, `value` or `group`). --write-pairs writes the labelled
pairs that production calibrates judges on (elicitation/domain/dedup_pairs.json) from the generated
cards.

With --judge-pairs 0 the judge-mode row uses the configured judge's latest stored calibration
(`manage.py calibrate_judge`) instead of measuring it again.

    .venv/bin/python bench/dedup.py [--judge-pairs 100] [--cards FILE] [--write-pairs]
"""
from __future__ import annotations

import argparse
import json
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

from elicitation.domain.dedup import (
    LOOSE_DISTANCE_THRESHOLD,
    PAIRS_FILE,
    TIGHT_DISTANCE_THRESHOLD,
    beats_chance,
    chance_p_value,
)
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
TIGHT_SWEEP = [0.100, 0.125, 0.150, 0.175, 0.200, 0.225, 0.250]
MIN_TIGHT_PRECISION = 0.8

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


def embedding_only(vectors: np.ndarray, tight: float, curator=None) -> tuple[np.ndarray, int]:
    """Production's embedding-only mode: a card joins the nearest value within `tight`; the candidates
    between `tight` and the loose threshold are queued for a curator. With `curator(card, founder)`,
    queued pairs are decided as it says, as if it had answered when the card arrived. Returns each
    card's value index and how many pairs were queued."""
    def within(a: int, founder: int) -> bool:
        return 1.0 - float(vectors[a] @ vectors[founder]) <= tight

    assigned, asked = online_clusters(vectors, LOOSE_DISTANCE_THRESHOLD,
                                      lambda a, f: within(a, f) or bool(curator and curator(a, f)))
    return assigned, sum(not within(a, f) for a, f in asked)


def tight_sweep(vectors: np.ndarray, truth: np.ndarray) -> float:
    """Embedding-only mode at each tight threshold: how right its merges are, and what it leaves to curators.
    Returns the largest threshold whose merges are right at least MIN_TIGHT_PRECISION of the time."""
    print(f"\nEmbedding-only mode by tight threshold (loose {LOOSE_DISTANCE_THRESHOLD}): merges made without a "
          f"judge must be right at least {MIN_TIGHT_PRECISION:.0%} of the time")
    print(f"  {'tight':>6} {'P     R     F1':>17} {'values':>6} {'queued':>6}")
    measured = TIGHT_SWEEP[0]
    for tight in TIGHT_SWEEP:
        assigned, queued = embedding_only(vectors, tight)
        scores = cluster_scores(assigned, truth)
        if scores.precision >= MIN_TIGHT_PRECISION:
            measured = tight
        mark = " <- production" if tight == TIGHT_DISTANCE_THRESHOLD else ""
        print(f"  {tight:6.3f} {scores!s:>17} {assigned.max() + 1:6d} {queued:6d}{mark}")
    print(f"  largest tight threshold with precision >= {MIN_TIGHT_PRECISION:.2f}: {measured:.3f}")
    return measured


def modes_side_by_side(vectors: np.ndarray, labels: np.ndarray, truth: np.ndarray,
                       judge_rates: tuple[float, float] | None) -> None:
    rng = random.Random(SEED)

    def stand_in(says_same_on_duplicates: float, says_same_on_different: float):
        return lambda a, f: rng.random() < (says_same_on_duplicates if labels[a] == labels[f] else says_same_on_different)

    coin = online_clusters(vectors, LOOSE_DISTANCE_THRESHOLD, stand_in(0.5, 0.5))[0]
    rows: list[tuple[str, np.ndarray, int | None]] = [("judge mode, a judge at chance (coin flip)", coin, None)]
    if judge_rates:
        name = f"judge mode, real judge's rates ({judge_rates[0]:.0%} / {judge_rates[1]:.0%} say same)"
        rows.append((name, online_clusters(vectors, LOOSE_DISTANCE_THRESHOLD, stand_in(*judge_rates))[0], None))
    rows.append(("judge mode, a perfect judge", online_clusters(vectors, LOOSE_DISTANCE_THRESHOLD,
                                                                 stand_in(1.0, 0.0))[0], None))
    auto, queued = embedding_only(vectors, TIGHT_DISTANCE_THRESHOLD)
    rows.append(("embedding-only, placed automatically", auto, queued))
    decided, queued = embedding_only(vectors, TIGHT_DISTANCE_THRESHOLD, lambda a, f: labels[a] == labels[f])
    rows.append(("embedding-only, curator decides the queue rightly", decided, queued))
    print(f"\nThe two modes side by side (loose threshold {LOOSE_DISTANCE_THRESHOLD}, tight "
          f"{TIGHT_DISTANCE_THRESHOLD}; cards arrive one by one):")
    print(f"  {'mode':58} {'P     R     F1':>17} {'values':>6} {'queued':>6}")
    for name, assigned, queued in rows:
        print(f"  {name:58} {cluster_scores(assigned, truth)!s:>17} {assigned.max() + 1:6d} "
              f"{'' if queued is None else queued:>6}")


def load_cards(path: Path) -> list[Card]:
    """Labelled real cards: a JSON array or JSON lines, MAI's column names or ours (see the docstring)."""
    text = path.read_text()
    rows = json.loads(text) if text.lstrip().startswith("[") else [json.loads(line) for line in text.splitlines()
                                                                   if line.strip()]

    def field(row: dict, *names: str):
        return next(row[n] for n in names if n in row)

    values: dict[str, int] = {}
    cards = []
    for row in rows:
        policies = field(row, "policies", "evaluationCriteria")
        group = values.setdefault(str(field(row, "canonicalCardId", "value", "group")), len(values))
        cards.append(Card(group=group, title=row["title"], description=field(row, "description", "instructionsShort"),
                          policies=list(policies)))
    return cards


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


def sample_pairs(cards: list[Card], asked: list[tuple[int, int]], size: int,
                 rng: random.Random) -> list[tuple[int, int]]:
    """Half pairs of the same value, half not, among those the judge would be asked."""
    same = [p for p in asked if cards[p[0]].group == cards[p[1]].group]
    different = [p for p in asked if cards[p[0]].group != cards[p[1]].group]
    return rng.sample(same, min(size // 2, len(same))) + rng.sample(different, min(size - size // 2, len(different)))


def write_pairs(cards: list[Card], vectors: np.ndarray, asked: list[tuple[int, int]], size: int) -> None:
    """The labelled pairs production calibrates judges on, shipped in the repository."""
    pairs = sample_pairs(cards, asked, size, random.Random(SEED + 1))
    rows = [{"a": cards[a].as_dict(), "b": cards[b].as_dict(), "same": cards[a].group == cards[b].group,
             "distance": round(float(1.0 - vectors[a] @ vectors[b]), 4)} for a, b in pairs]
    PAIRS_FILE.write_text(json.dumps(rows, indent=1) + "\n")
    print(f"wrote {len(rows)} labelled pairs ({sum(r['same'] for r in rows)} duplicates) to {PAIRS_FILE}")


def real_judge_sample(cards: list[Card], asked: list[tuple[int, int]], size: int,
                      rng: random.Random) -> tuple[float, float]:
    """The judges on the same sampled pairs: the old JSON answer, and Yes/No log-probabilities read
    raw, calibrated (production), and calibrated in both card orders. Returns how often production's
    judge says "same" on duplicates and on different values."""
    from django.conf import settings

    from chorus.inference import NotSupported
    from chorus.llm import chat_backend

    sample = sample_pairs(cards, asked, size, rng)
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
        return _production_judge(json_says, truth)
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
    return _production_judge(forward > lean, truth)


def stored_calibration_rates() -> tuple[float, float] | None:
    """The configured judge's rates from its latest calibration in the database (`manage.py calibrate_judge`)."""
    from elicitation.selectors.dedup import dedup_mode

    mode = dedup_mode()
    calibration = mode.calibration
    if calibration is None:
        print(f"\n(no stored calibration of {mode.backend}: run manage.py calibrate_judge, or --judge-pairs 100)")
        return None
    print(f"\nStored calibration of {mode.backend}: {calibration.correct}/{calibration.pairs} right, p = "
          f"{calibration.p_value:.3f}: {'judge mode' if mode.uses_judge else 'embedding-only mode'}")
    different = calibration.pairs - calibration.duplicates
    return calibration.said_same_on_duplicates / calibration.duplicates, calibration.said_same_on_different / different


def _production_judge(says: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    correct = int((says == truth).sum())
    p_value = chance_p_value(correct, len(truth))
    print(f"  production's judge: {correct}/{len(truth)} right, p = {p_value:.3f} against a coin flip: "
          f"{'better than chance, judge mode' if beats_chance(p_value) else 'at chance, embedding-only mode'}")
    return float(says[truth].mean()), float(says[~truth].mean())


def _judge_row(name: str, says: np.ndarray, truth: np.ndarray, seconds: float) -> None:
    true_positive = int((says & truth).sum())
    precision = f"{true_positive / says.sum():9.3f}" if says.any() else f"{'n/a':>9}"
    print(f"  {name:46} {(says == truth).mean():8.3f} {precision} {true_positive / truth.sum():6.3f} "
          f"{says.mean():9.0%} {seconds:6.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--judge-pairs", type=int, default=100, help="pairs for the real judge (0: skip it)")
    parser.add_argument("--cards", type=Path, help="labelled real cards instead of the generated ones")
    parser.add_argument("--write-pairs", action="store_true", help=f"write {PAIRS_FILE.name} from the generated cards")
    args = parser.parse_args()
    if args.cards and args.write_pairs:
        parser.error("the shipped pairs are written from the generated cards only")

    start = time.perf_counter()
    cards = load_cards(args.cards) if args.cards else make_cards()
    labels = np.array([c.group for c in cards])
    truth = same_group_pairs(labels)
    source = f"from {args.cards}" if args.cards else f"generated (seed {SEED})"
    print(f"{len(cards)} cards of {len(set(labels.tolist()))} values, {source}; "
          f"{int(truth.sum())} duplicate pairs of {len(cards) * (len(cards) - 1) // 2}; read in "
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
          f"true number of values: {len(set(labels.tolist()))})")
    if args.write_pairs:
        write_pairs(cards, vectors, asked_at_production, 100)

    tight_sweep(vectors, truth)
    if args.judge_pairs:
        judge_rates = real_judge_sample(cards, asked_at_production, args.judge_pairs, random.Random(SEED))
    else:
        judge_rates = stored_calibration_rates()
    modes_side_by_side(vectors, labels, truth, judge_rates)


if __name__ == "__main__":
    main()
