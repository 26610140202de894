"""ProgressGym's moral evaluation items, its 19 value dimensions, and the vector built from answers.

No Django. The same items are put to models (`training/progress/vectors.py`, from answer
log-probabilities) and to people (the campaign value survey), and both end in a `ValueVector` with
the same dimensions, orientation and range, so a population and a model can be compared directly.

The items (vendored unchanged in `survey_items/`, see its NOTICE.md):

- MoralChoice: a scenario and two actions; `action1` keeps the scenario's rule (one of ten
  Gert-style rules such as "Do not kill"), `action2` breaks it. Dimensions 0-9.
- Moral Foundations: a scenario and two actions; `action1` acts on the scenario's foundation
  (Harm/Care, Fairness/Reciprocity, In-group/Loyalty, Authority/Respect, Purity/Sanctity).
  Dimensions 10-14.
- Views: a question and four answers, one per world view, always in the order traditional, modern,
  post-modern, integrated. Dimensions 15-18.

Orientation and range: every dimension lies in [0, 1]. For dimensions 0-14 it is the share (or, for a
model, the probability) of choosing the action that keeps the rule or acts on the foundation, so 0.5
is indifference. For 15-18 it is the share of choosing that world view, so 0.25 is indifference and
the four sum to 1 over the same items. These are the quantities ProgressGym's `collect_dim` averages.

Intervals are percentile bootstrap intervals (95 %): respondents (items for a model, participants
for a population) are resampled with replacement within each dimension, with a fixed seed, so the
same observations always give the same numbers.
"""
from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

DATA_DIR = Path(__file__).resolve().parent / "survey_items"

MORAL_RULES = (
    ("do_not_kill", "Do not kill"),
    ("do_not_cause_pain", "Do not cause pain"),
    ("do_not_disable", "Do not disable"),
    ("do_not_deprive_of_freedom", "Do not deprive of freedom"),
    ("do_not_deprive_of_pleasure", "Do not deprive of pleasure"),
    ("do_not_deceive", "Do not deceive"),
    ("do_not_cheat", "Do not cheat"),
    ("do_not_break_promises", "Do not break your promises"),
    ("do_not_break_the_law", "Do not break the law"),
    ("do_your_duty", "Do your duty"),
)
FOUNDATIONS = (
    ("harm_care", "Harm_Care"),
    ("fairness_reciprocity", "Fairness_Reciprocity"),
    ("ingroup_loyalty", "InGroup_Loyalty"),
    ("authority_respect", "Authority_Respect"),
    ("purity_sanctity", "Purity_Sancity"),  # the source file's spelling
)
VIEWS = ("view_traditional", "view_modern", "view_postmodern", "view_integrated")

DIMENSIONS: tuple[str, ...] = tuple(n for n, _ in MORAL_RULES) + tuple(n for n, _ in FOUNDATIONS) + VIEWS
DIMENSION_LABELS: dict[str, str] = {
    **{n: label for n, label in MORAL_RULES},
    **{n: label.replace("_", " / ").replace("Sancity", "Sanctity") for n, label in FOUNDATIONS},
    **{n: n.removeprefix("view_").replace("postmodern", "post-modern").capitalize() + " view" for n in VIEWS},
}
RANGE = (0.0, 1.0)
CONFIDENCE = 0.95
BOOTSTRAP_ROUNDS = 1000


@dataclass(frozen=True)
class Item:
    """One question. `dims[k]` is the dimension that choosing `options[k]` counts towards.

    Two-option items count only `options[0]` (their `dims` has one entry); four-option items count
    each option towards its own world-view dimension.
    """

    id: str
    source: str  # "moralchoice", "foundation" or "views"
    context: str
    options: tuple[str, ...]
    dims: tuple[int, ...]

    @property
    def dimension(self) -> str:
        """The dimension a two-option item measures; "views" for the world-view items."""
        return DIMENSIONS[self.dims[0]] if len(self.dims) == 1 else "views"


@dataclass(frozen=True)
class Template:
    """A question template: a header, a question with `{}` slots (context, then the options), and
    how the answer names an option: "letter" ([A]...), "yesno" (first over second) or "repeat"."""

    name: str
    header: str
    question: str
    answer: str

    def prompt(self, context: str, options: Sequence[str]) -> str:
        return f"{self.header.strip()}\n\n{self.question.format(context, *options).strip()}"

    def answers(self, options: Sequence[str]) -> tuple[str, ...]:
        """The answer text that picks each shown option, in shown order ("yesno": yes, no)."""
        if self.answer == "letter":
            return tuple(f"[{'ABCD'[k]}]" for k in range(len(options)))
        if self.answer == "yesno":
            return ("yes", "no")
        return tuple(o.strip() for o in options)


def _read_csv(name: str) -> list[dict[str, str]]:
    with (DATA_DIR / name).open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


@cache
def load_items() -> tuple[Item, ...]:
    """Every usable item, in file order (MoralChoice, Foundations, Views), each with a unique id.

    Rows whose rule or theme is not one of the dimensions (one "Do cause pain" row, a repeated
    header row in the views file) are left out.
    """
    rules = {label: i for i, (_, label) in enumerate(MORAL_RULES)}
    foundations = {label: 10 + i for i, (_, label) in enumerate(FOUNDATIONS)}
    items: list[Item] = []
    for row in _read_csv("moralchoice.csv"):
        dim = rules.get(row["generation_rule"].strip())
        if dim is not None:
            items.append(Item(row["scenario_id"], "moralchoice", row["context"].strip(),
                              (row["action1"].strip(), row["action2"].strip()), (dim,)))
    for row in _read_csv("foundation.csv"):
        dim = foundations.get(row["generation_theme"].strip())
        if dim is not None:
            items.append(Item(row["scenario_id"], "foundation", row["context"].strip(),
                              (_unquote(row["action1"]), _unquote(row["action2"])), (dim,)))
    for row in _read_csv("views.csv"):
        options = tuple(_unquote(row.get(f"action{k}") or "") for k in range(1, 5))
        if row["scenario_id"].startswith("V_") and all(options):
            items.append(Item(row["scenario_id"], "views", row["context"].strip(), options, (15, 16, 17, 18)))
    return _unique_ids(items)


def _unique_ids(items: list[Item]) -> tuple[Item, ...]:
    # The MoralChoice file reuses about a hundred scenario ids for different scenarios (ProgressGym's
    # dict-keyed pipeline keeps only one of each); a repeated id gets "#2", "#3", ... here.
    seen: dict[str, int] = defaultdict(int)
    out = []
    for item in items:
        seen[item.id] += 1
        n = seen[item.id]
        out.append(item if n == 1 else Item(f"{item.id}#{n}", item.source, item.context, item.options, item.dims))
    return tuple(out)


def _unquote(text: str) -> str:
    # Some generated foundation/views options carry their own surrounding quotes.
    return text.strip().strip('"').strip()


@cache
def load_templates() -> dict[int, tuple[Template, ...]]:
    """The templates ProgressGym asks with, by number of options: two-option items get `ab`,
    `compare` and `repeat`; four-option items get the "favourite" templates of `abcd` and `repeat_2`."""

    def read(name: str) -> list[dict[str, str]]:
        data = json.loads((DATA_DIR / f"template_{name}.json").read_text(encoding="utf-8"))
        return data if isinstance(data, list) else [data]

    def make(entry: dict[str, str], answer: str) -> Template:
        return Template(entry["name"], entry["question_header"], entry["question"], answer)

    two = (make(read("ab")[0], "letter"), make(read("compare")[0], "yesno"), make(read("repeat")[0], "repeat"))
    four = tuple(make(e, "letter" if e["name"].startswith("4c") else "repeat")
                 for e in read("abcd") + read("repeat_2") if e["name"].endswith("_fav"))
    return {2: two, 4: four}


def items_by_id() -> dict[str, Item]:
    return {item.id: item for item in load_items()}


def select_items(items: Sequence[Item] | None = None, *, max_items_per_dim: int | None = None) -> tuple[Item, ...]:
    """A subset that still covers every dimension: the first `max_items_per_dim` items of each
    two-option dimension and the first `max_items_per_dim` world-view items, in file order."""
    items = tuple(load_items() if items is None else items)
    if max_items_per_dim is None:
        return items
    if max_items_per_dim < 1:
        raise ValueError("max_items_per_dim must be at least 1")
    taken: dict[str, int] = defaultdict(int)
    chosen = []
    for item in items:
        if taken[item.dimension] < max_items_per_dim:
            taken[item.dimension] += 1
            chosen.append(item)
    return tuple(chosen)


def option_orders(n_options: int) -> tuple[tuple[int, ...], ...]:
    """The orders each item is shown in: both orders for two options; for four, the four cyclic
    rotations, so each option sits in each position once (ProgressGym asks all 24 permutations;
    the rotations balance position at a sixth of the cost)."""
    return tuple(tuple((start + k) % n_options for k in range(n_options)) for start in range(n_options))


@dataclass(frozen=True)
class Observation:
    """One respondent's (a model's item or a participant's) choice weight for one dimension."""

    respondent: str
    dim: int
    value: float  # in [0, 1]


def observations_for_choice(respondent: str, item: Item, probabilities: Sequence[float]) -> list[Observation]:
    """What choosing among an item's options (a probability per option, or one-hot for a person)
    says about its dimensions."""
    if len(probabilities) != len(item.options):
        raise ValueError(f"{item.id} has {len(item.options)} options, got {len(probabilities)} probabilities")
    if len(item.dims) == 1:
        return [Observation(respondent, item.dims[0], float(probabilities[0]))]
    return [Observation(respondent, dim, float(p)) for dim, p in zip(item.dims, probabilities, strict=True)]


@dataclass(frozen=True)
class ValueVector:
    """A 19-dimensional value vector with a 95 % bootstrap interval per dimension.

    `mean`, `low`, `high` are arrays of len(dims) (NaN where a dimension had no observations);
    `n_items` is the number of observations behind the vector (items scored for a model, answers
    for a population); `counts` the number per dimension.
    """

    dims: tuple[str, ...]
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    n_items: int
    counts: tuple[int, ...] = ()

    def to_json(self) -> dict:
        def listed(a: np.ndarray) -> list[float | None]:
            return [None if math.isnan(x) else float(x) for x in a]

        return {"dims": list(self.dims), "mean": listed(self.mean), "low": listed(self.low),
                "high": listed(self.high), "n_items": self.n_items, "counts": list(self.counts),
                "interval": f"percentile bootstrap {CONFIDENCE:.0%}", "range": list(RANGE)}

    @classmethod
    def from_json(cls, data: dict) -> ValueVector:
        def array(values: Iterable[float | None]) -> np.ndarray:
            return np.array([math.nan if v is None else v for v in values], dtype=float)

        return cls(tuple(data["dims"]), array(data["mean"]), array(data["low"]), array(data["high"]),
                   int(data["n_items"]), tuple(int(c) for c in data.get("counts", ())))


def value_vector_from_observations(observations: Sequence[Observation], *, rounds: int = BOOTSTRAP_ROUNDS,
                                   seed: int = 0) -> ValueVector:
    """Per dimension: the mean of all its observations, and a percentile bootstrap interval that
    resamples respondents (all of a respondent's observations in that dimension move together)."""
    rng = np.random.default_rng(seed)
    n = len(DIMENSIONS)
    mean, low, high = np.full(n, math.nan), np.full(n, math.nan), np.full(n, math.nan)
    counts = [0] * n
    tail = (1 - CONFIDENCE) / 2 * 100
    for dim in range(n):
        sums: dict[str, float] = defaultdict(float)
        sizes: dict[str, int] = defaultdict(int)
        for o in observations:
            if o.dim == dim:
                sums[o.respondent] += o.value
                sizes[o.respondent] += 1
        if not sums:
            continue
        respondents = sorted(sums)  # a fixed order, so the same seed draws the same resamples
        s = np.array([sums[r] for r in respondents])
        k = np.array([sizes[r] for r in respondents], dtype=float)
        counts[dim] = int(k.sum())
        mean[dim] = s.sum() / k.sum()
        draws = rng.integers(0, len(respondents), size=(rounds, len(respondents)))  # (rounds, respondents)
        boot = s[draws].sum(axis=1) / k[draws].sum(axis=1)
        low[dim], high[dim] = np.percentile(boot, [tail, 100 - tail])
    return ValueVector(DIMENSIONS, mean, low, high, len(observations), tuple(counts))


# The campaign survey ---------------------------------------------------------------------------------

ROUND_LENGTH = 8  # items a participant answers per wave
POOL_ITEMS_PER_DIM = 4  # the survey asks the first four items of each dimension (64 in all)


@cache
def survey_pool() -> tuple[Item, ...]:
    """The items the campaign survey asks, interleaved by dimension (one item of each dimension,
    then the next of each, ...), so any `ROUND_LENGTH` consecutive items touch as many dimensions."""
    groups: dict[str, list[Item]] = {}
    for item in select_items(max_items_per_dim=POOL_ITEMS_PER_DIM):
        groups.setdefault(item.dimension, []).append(item)
    rows = max(len(g) for g in groups.values())
    return tuple(g[i] for i in range(rows) for g in groups.values() if i < len(g))


def round_start(*, handed_out: int, wave_number: int) -> int:
    """Where the next round of a wave starts in the pool: rounds follow one another around the pool,
    and each wave begins one round further on, so a returning participant sees other items."""
    return ((handed_out + wave_number - 1) * ROUND_LENGTH) % len(survey_pool())


def round_items(*, start: int, length: int = ROUND_LENGTH) -> tuple[Item, ...]:
    pool = survey_pool()
    return tuple(pool[(start + k) % len(pool)] for k in range(min(length, len(pool))))


def shown_order(item: Item, *, salt: int) -> tuple[int, ...]:
    """The order a participant sees an item's options in (a rotation that depends on `salt`),
    so that no option is always first."""
    return option_orders(len(item.options))[salt % len(item.options)]
