"""The personalised reward models on real people's preferences, against the rewards they must beat.

    .venv/bin/python bench/population_real.py --data ../shared/data/hh_hidden_context/dev.jsonl.gz \
        --users ../shared/data/hh_hidden_context/dev_users.csv \
        [--features smollm2|minilm|minilm-tuned|minilm-tuned-bt|HF_FOLDER] [--seeds 3] [--json OUT] [--select] \
        [--recoverability]

Reads a JSONL file (optionally gzipped) of `{user, prompt, chosen, rejected}` rows. For each seed:

1. people split: a share of people is kept aside whole (new people); every other person's pairs
   are split into training and held-out pairs (`split_population`, the split PAL's and VPL's runs
   use, over pairs shuffled by the seed);
2. on the same frozen features of every (prompt, response), side by side: one Bradley-Terry reward
   for everyone (a linear head, the baseline), PAL and VPL (`fit_population` of
   training/methods/pal.py and vpl.py, their default configs), and, when `--users` names each
   person's group, one Bradley-Terry reward per group (the oracle, the ceiling);
3. held-out accuracy of the people seen in training, overall and per group;
4. new people placed from their first k pairs (k = 1, 2, 4, 8, 16: PAL by their posterior over
   its prototypes, VPL's encoder reading the pairs) and scored on the pairs after the 16th; the single reward and the
   oracle score the same pairs;
5. with `--recoverability`, how much of a person's group their own pairs reveal: each person is
   assigned to the oracle head under which their pairs are likelier and scored with it (the
   "recovered oracle", `recover_groups`), the ceiling for any method that must infer the group;
   and the same with two heads found without the groups (hard EM, `two_heads`).

The users file is read for the oracle and the per-group rows only: PAL and VPL never see it.
`--features minilm-tuned` fine-tunes MiniLM's top layer on each seed's training pairs alone
(bench/tuned_features.py) and every method then trains on those features. `--select` only scores
PAL's and VPL's candidate settings (CANDIDATES) on an inner validation slice of each seed's
training pairs, to choose their settings without reading the held-out pairs.

Figures are the mean over seeds with a 95% interval (Student t over seeds). Ties (chosen ==
rejected) and rows with an empty field are counted and left out. Features are cached on disk
(bench/text_features.py), so only the first run reads the texts.
"""
from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "platform"))

from training.methods import pal, vpl
from training.methods.common.mixture import fit_linear, hard_em
from training.methods.common.population import (
    PopulationScorer,
    PrefPair,
    by_user,
    format_text,
    split_population,
)

KS = (1, 2, 4, 8, 16)
NEW_PEOPLE_TEST_MIN = 4  # pairs after the 16th a new person needs to be scored on
METHODS = ("bt", "pal", "vpl", "oracle")
LABELS = {"bt": "one reward for all (BT)", "pal": "PAL", "vpl": "VPL", "oracle": "oracle: one BT per group"}
T_975 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262}


# --- data ---------------------------------------------------------------------------------------


@dataclass
class Loaded:
    pairs: list[PrefPair]
    skipped: Counter = field(default_factory=Counter)  # reason -> rows


def read_pairs(path: Path) -> Loaded:
    """Every usable row of a JSONL file (gzipped when it ends in .gz); ties and rows with a missing
    or empty field are counted under `skipped`, not kept."""
    opener = gzip.open if path.suffix == ".gz" else open
    loaded = Loaded([])
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if not line.strip():
                continue
            row = json.loads(line)
            values = [row.get(k) for k in ("user", "prompt", "chosen", "rejected")]
            if not all(isinstance(v, str) and v.strip() for v in values):
                loaded.skipped["a missing or empty field"] += 1
            elif row["chosen"] == row["rejected"]:
                loaded.skipped["a tie (chosen == rejected)"] += 1
            else:
                loaded.pairs.append(PrefPair(*values))
    return loaded


def read_groups(path: Path) -> dict[str, str]:
    """user -> group from a CSV whose first column is the user and second the group."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return {r[0]: r[1] for r in rows[1:] if len(r) >= 2}


# --- features ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Features:
    index: dict[str, int]  # format_text(prompt, response) -> row
    matrix: Any  # (N, D)
    key: str  # what made them


def response_texts(pairs: Sequence[PrefPair]) -> list[str]:
    return sorted({format_text(p.prompt, r) for p in pairs for r in (p.chosen, p.rejected)})


def pair_features(pairs: Sequence[PrefPair], embed: Callable[[list[str]], Any], key: str) -> Features:
    """One vector per (prompt, response): the response's own embedding. On the dev data, adding the
    prompt's last turn (its embedding times the response's, so that a linear reward could prefer
    refusals after harmful requests only) did not help the single reward or the oracle."""
    import torch

    texts = response_texts(pairs)
    response_of = {format_text(p.prompt, r): r for p in pairs for r in (p.chosen, p.rejected)}
    responses = sorted(set(response_of.values()))
    row = {r: i for i, r in enumerate(responses)}
    vectors = embed(responses)  # (R, D)
    return Features({t: i for i, t in enumerate(texts)}, vectors[torch.tensor([row[response_of[t]] for t in texts])], key)


# --- one Bradley-Terry reward (the baseline and, per group, the oracle) -------------------------


@dataclass(frozen=True)
class LinearReward:
    weight: Any  # (D,)
    mean: Any  # (D,)
    std: Any  # (D,)

    def margins(self, feats: Features, pairs: Sequence[PrefPair]) -> Any:
        chosen, rejected = _rows(feats, pairs)
        return ((chosen - rejected) / self.std) @ self.weight  # (P,)


def _rows(feats: Features, pairs: Sequence[PrefPair]) -> tuple[Any, Any]:
    import torch

    chosen = torch.tensor([feats.index[format_text(p.prompt, p.chosen)] for p in pairs], dtype=torch.long)
    rejected = torch.tensor([feats.index[format_text(p.prompt, p.rejected)] for p in pairs], dtype=torch.long)
    return feats.matrix[chosen], feats.matrix[rejected]


def fit_bt(feats: Features, pairs: Sequence[PrefPair], *, l2: float) -> LinearReward:
    """r(x) = w . x on standardised features, minimising the Bradley-Terry loss plus l2 ||w||^2
    (full batch, L-BFGS): the reward a researcher would train on everyone's pairs pooled."""
    mean, std = feats.matrix.mean(0), feats.matrix.std(0).clamp_min(1e-6)
    chosen, rejected = _rows(feats, pairs)
    return LinearReward(fit_linear((chosen - rejected) / std, l2=l2), mean, std)


def margin_accuracy(margins: Any) -> float:
    """Share of pairs whose chosen response scores higher; an exact tie counts as a coin flip."""
    if len(margins) == 0:
        return math.nan
    return float(((margins > 0).float() + 0.5 * (margins == 0).float()).mean())


# --- one seed -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    eval_fraction: float = 0.25
    new_user_fraction: float = 0.2
    bt_l2: float = 10.0
    pal: pal.Config = field(default_factory=pal.Config)
    # VPL's own defaults: best of the candidates under `--select` on the default (SmolLM2) features,
    # six seeds (docs/training.md). On tuned MiniLM a narrower VPL stopped at 300 steps had been.
    vpl: vpl.Config = field(default_factory=vpl.Config)


@dataclass(frozen=True)
class BenchSplit:
    train: list[PrefPair]
    held_out: list[PrefPair]
    new_people: dict[str, list[PrefPair]]  # each new person's pairs, in the order they are revealed


def split_people(pairs: Sequence[PrefPair], *, seed: int, settings: Settings) -> BenchSplit:
    """Pairs shuffled by the seed, then PAL's and VPL's own split: whole people aside as new (only
    people with enough pairs to be placed from 16 and scored on at least 4 more), and each other
    person's last `eval_fraction` of pairs held out."""
    shuffled = list(pairs)
    random.Random(seed).shuffle(shuffled)
    split = split_population(shuffled, seed=seed, new_user_fraction=settings.new_user_fraction,
                             eval_fraction=settings.eval_fraction,
                             adaptation_pairs=max(KS) + NEW_PEOPLE_TEST_MIN - 1)
    return BenchSplit(split.train, split.held_out, split.new_users)


def _per_person(pairs: Sequence[PrefPair], accuracy_of: Callable[[str, list[PrefPair]], float]) -> dict[str, tuple[float, int]]:
    return {user: (accuracy_of(user, own), len(own)) for user, own in by_user(pairs).items()}


def pooled(per_person: Mapping[str, tuple[float, int]], people: Sequence[str] | None = None) -> float:
    chosen = [per_person[u] for u in (people if people is not None else per_person) if u in per_person]
    total = sum(n for _, n in chosen)
    return sum(a * n for a, n in chosen) / total if total else math.nan


FeatureSource = Features | Callable[[int, BenchSplit], Features]  # fixed, or made from one seed's split


def features_for(source: FeatureSource, seed: int, split: BenchSplit) -> Features:
    """The features of one seed: frozen ones as they are, tuned ones from that seed's training split."""
    return source if isinstance(source, Features) else source(seed, split)


def run_seed(pairs: Sequence[PrefPair], source: FeatureSource, groups: Mapping[str, str] | None, *, seed: int,
             settings: Settings, recoverability: bool = False) -> dict[str, Any]:
    """Every method's per-person held-out accuracy and new-person curve for one seed:
    {"held_out": {method: {user: (accuracy, pairs)}}, "new_person": {method: {k: {user: (accuracy, pairs)}}},
     "split": sizes, "group_recognised": ..., "recoverability": `recover_groups` (when asked, with groups)}."""
    import torch

    split = split_people(pairs, seed=seed, settings=settings)
    feats = features_for(source, seed, split)
    torch.manual_seed(seed)
    held: dict[str, dict] = {}
    new: dict[str, dict] = {}
    tests = {u: own[max(KS):] for u, own in split.new_people.items()}
    identified: dict[str, float] = {}

    bt = fit_bt(feats, split.train, l2=settings.bt_l2)
    held["bt"] = _per_person(split.held_out, lambda _, own: margin_accuracy(bt.margins(feats, own)))
    new["bt"] = {k: {u: (margin_accuracy(bt.margins(feats, t)), len(t)) for u, t in tests.items()} for k in KS}

    recovery: dict[str, Any] = {}
    if groups is not None:
        heads = fit_oracle(feats, split.train, groups, l2=settings.bt_l2)
        if recoverability:
            recovery = recover_groups(heads, bt, feats, split, groups, l2=settings.bt_l2, seed=seed)
        held["oracle"] = _per_person(
            split.held_out, lambda u, own: margin_accuracy(heads[groups[u]].margins(feats, own)))
        new["oracle"] = {k: {u: (margin_accuracy(heads[groups[u]].margins(feats, t)), len(t))
                             for u, t in tests.items()} for k in KS}
        identified = {"seen": recognised(heads, feats, by_user(split.train), groups),
                      **{f"new, k = {k}": recognised(heads, feats, {u: own[:k] for u, own in split.new_people.items()},
                                                     groups) for k in KS}}

    pal_config = _seeded(settings.pal, seed)
    trained_pal = pal.fit_population(feats.matrix, feats.index, split.train, config=pal_config)
    pal_scorer = _scorer(pal.PalScorer, trained_pal, feats)
    held["pal"] = _per_person(split.held_out, lambda u, own: pal_scorer.pair_accuracy(pal_scorer.weights_of(u), own))
    new["pal"] = _curve(tests, split.new_people, pal_scorer,
                        lambda first: pal_scorer.fit_user(_triples(first)))

    vpl_config = _seeded(settings.vpl, seed)
    trained_vpl = vpl.fit_population(feats.matrix, feats.index, split.train, config=vpl_config)
    vpl_scorer = _scorer(vpl.VplScorer, trained_vpl, feats)
    held["vpl"] = _per_person(split.held_out, lambda u, own: vpl_scorer.pair_accuracy(vpl_scorer.latent_of(u), own))
    new["vpl"] = _curve(tests, split.new_people, vpl_scorer, lambda first: vpl_scorer.infer(_triples(first)))

    sizes = {"train_pairs": len(split.train), "held_out_pairs": len(split.held_out),
             "new_people": len(split.new_people), "new_people_test_pairs": sum(len(t) for t in tests.values())}
    return {"held_out": held, "new_person": new, "split": sizes, "group_recognised": identified,
            "recoverability": recovery}


def fit_oracle(feats: Features, train: Sequence[PrefPair], groups: Mapping[str, str], *, l2: float) -> dict[str, LinearReward]:
    """One Bradley-Terry reward per group, each on its members' training pairs (the oracle's heads)."""
    return {g: fit_bt(feats, [p for p in train if groups.get(p.user) == g], l2=l2)
            for g in sorted({groups[p.user] for p in train if p.user in groups})}


def likeliest_group(heads: Mapping[str, LinearReward], feats: Features, own: Sequence[PrefPair]) -> str:
    """The group whose reward gives `own` pairs the highest Bradley-Terry likelihood."""
    fit = {g: _log_likelihood(h, feats, own) for g, h in heads.items()}
    return max(fit, key=fit.get)


def _log_likelihood(reward: LinearReward, feats: Features, own: Sequence[PrefPair]) -> float:
    import torch

    return float(torch.nn.functional.logsigmoid(reward.margins(feats, own)).sum())


def recognised(heads: Mapping[str, LinearReward], feats: Features, people: Mapping[str, list[PrefPair]],
               groups: Mapping[str, str]) -> float:
    """Share of `people` whose pairs are likelier under their own group's oracle reward than under
    any other: how well a person's group can be told from those pairs even knowing both rewards,
    roughly the most PAL or VPL can recover about them (optimistic for people seen in training,
    whose pairs the rewards were fitted to)."""
    right = sum(likeliest_group(heads, feats, own) == groups[user] for user, own in people.items())
    return right / len(people) if people else math.nan


# --- recoverability: how much of a person's group their own pairs reveal -----------------------

SEEN_PREFIXES = (1, 2, 4, 8, 16, 32)  # first n training pairs of a seen person (all of them if fewer)


def recover_groups(heads: Mapping[str, LinearReward], bt: LinearReward, feats: Features, split: BenchSplit,
                   groups: Mapping[str, str], *, l2: float, seed: int = 0) -> dict[str, Any]:
    """The ceiling on inferring a person's group from their own pairs with the oracle's heads: each
    person is assigned to the head under which their pairs are likelier (`likeliest_group`) and then
    scored with the oracle's head of that group, the "recovered oracle". Parts:

    - "seen": people seen in training, assigned from their first n training pairs (and from all),
      the heads refitted without that person (their group's head on its other members' pairs), so
      that their pairs are evidence the heads never saw; scored on their held-out pairs;
    - "seen_in_sample": the same from all their training pairs with the oracle's own heads, which
      were fitted to those pairs (optimistic: what a method that fits everyone at once may reach);
    - "new_person": new people, assigned from their first k pairs, scored on the pairs after the 16th;
    - "unlabelled_seen" and "unlabelled_new_person": the same with two heads found without the
      groups (`unlabelled_rows`).

    Each row: {"recovered": share assigned to their own group, "recovered_oracle": accuracy pooled
    over pairs, "people": n}; the "_reference" parts hold the oracle (told the group) and the single
    reward on the same pairs."""
    seen_train, seen_held = by_user(split.train), by_user(split.held_out)
    seen = {u: own for u, own in seen_train.items() if u in seen_held and u in groups}
    tests = {u: own[max(KS):] for u, own in split.new_people.items() if u in groups}
    held = {u: seen_held[u] for u in seen}
    without = {u: {**heads, groups[u]: fit_bt(feats, [p for p in split.train if groups.get(p.user) == groups[u]
                                                      and p.user != u], l2=l2)} for u in seen}

    def row(first: Mapping[str, list[PrefPair]], scored: Mapping[str, list[PrefPair]],
            heads_of: Callable[[str], Mapping[str, LinearReward]] = lambda _: heads) -> dict[str, float]:
        assigned = {u: likeliest_group(heads_of(u), feats, first[u]) for u in scored}
        return _recovery_row(heads, assigned, scored, feats, right=lambda u: assigned[u] == groups[u])

    def reference(scored: Mapping[str, list[PrefPair]]) -> dict[str, float]:
        return {"oracle": _accuracy([(heads[groups[u]], own) for u, own in scored.items()], feats),
                "bt": _accuracy([(bt, own) for own in scored.values()], feats)}

    return {
        "seen": {**{str(n): row({u: own[:n] for u, own in seen.items()}, held, without.get) for n in SEEN_PREFIXES},
                 "all": row(seen, held, without.get)},
        "seen_in_sample": {"all": row(seen, held)},
        "seen_reference": reference(held),
        "new_person": {str(k): row({u: split.new_people[u][:k] for u in tests}, tests) for k in KS},
        "new_person_reference": reference(tests),
        **unlabelled_rows(feats, seen, held, split.new_people, tests, groups, l2=l2, seed=seed),
    }


def unlabelled_rows(feats: Features, seen: Mapping[str, list[PrefPair]], held: Mapping[str, list[PrefPair]],
                    new_people: Mapping[str, list[PrefPair]], tests: Mapping[str, list[PrefPair]],
                    groups: Mapping[str, str], *, l2: float, seed: int) -> dict[str, Any]:
    """The same rows with two heads found without the groups (`two_heads`), each cluster named by
    the group most of its members belong to: "recovered" is then the share of people in a cluster
    named after their own group (purity) and "recovered_oracle" scores each with their cluster's head."""
    heads, cluster = two_heads(feats, seen, l2=l2, seed=seed)
    name = {c: Counter(groups[u] for u in seen if cluster[u] == c).most_common(1)[0][0] for c in set(cluster.values())}

    def row(assigned: Mapping[str, str], scored: Mapping[str, list[PrefPair]]) -> dict[str, float]:
        return _recovery_row(heads, assigned, scored, feats, right=lambda u: name.get(assigned[u]) == groups[u])

    return {"unlabelled_seen": {"all": row(cluster, held)},
            "unlabelled_new_person": {str(k): row({u: likeliest_group(heads, feats, new_people[u][:k]) for u in tests},
                                                  tests) for k in KS}}


def _recovery_row(heads: Mapping[str, LinearReward], assigned: Mapping[str, str],
                  scored: Mapping[str, list[PrefPair]], feats: Features, *,
                  right: Callable[[str], bool]) -> dict[str, float]:
    """One row of the recoverability table: the share of people placed `right`, and the held-out
    accuracy of scoring each person's pairs with the head they were assigned to."""
    return {"recovered": statistics.mean(right(u) for u in scored) if scored else math.nan,
            "recovered_oracle": _accuracy([(heads[assigned[u]], own) for u, own in scored.items()], feats),
            "people": len(scored)}


def two_heads(feats: Features, people: Mapping[str, list[PrefPair]], *, l2: float, seed: int,
              restarts: int = 5) -> tuple[dict[str, LinearReward], dict[str, str]]:
    """Two Bradley-Terry heads and each person's cluster ("0" or "1"), found without labels by hard
    EM (training/methods/common/mixture.py, the likeliest of `restarts` random starts): the oracle's
    model with the groups left to be found, as PAL or VPL must find them."""
    import torch

    users = list(people)
    pairs = [p for u in users for p in people[u]]
    who = torch.tensor([i for i, u in enumerate(users) for _ in people[u]])
    mean, std = feats.matrix.mean(0), feats.matrix.std(0).clamp_min(1e-6)
    chosen, rejected = _rows(feats, pairs)
    found = hard_em((chosen - rejected) / std, who, len(users), heads=2, l2=l2, seed=seed, restarts=restarts)
    heads = {str(k): LinearReward(found.heads[k], mean, std) for k in range(2)}
    return heads, {u: str(int(found.cluster[i])) for i, u in enumerate(users)}


def _accuracy(scored: Sequence[tuple[LinearReward, list[PrefPair]]], feats: Features) -> float:
    """Accuracy pooled over every pair, each person's pairs scored by the reward paired with them."""
    import torch

    margins = [reward.margins(feats, own) for reward, own in scored if own]
    return margin_accuracy(torch.cat(margins)) if margins else math.nan


def summarise_recovery(per_seed: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The `recoverability` key of `--json`: every figure of `recover_groups` as {mean, ci95,
    per_seed} over seeds (people: per seed)."""
    def over_seeds(path: Sequence[str]) -> dict[str, Any]:
        values = [_dig(r, path) for r in per_seed]
        mean, ci = interval(values)
        return {"mean": mean, "ci95": ci, "per_seed": values}

    out: dict[str, Any] = {}
    for part, rows in per_seed[0].items():
        out[part] = {name: ({key: over_seeds([part, name, key]) for key in figure} if isinstance(figure, dict)
                            else over_seeds([part, name])) for name, figure in rows.items()}
    return out


def _dig(tree: Mapping[str, Any], path: Sequence[str]) -> float:
    for key in path:
        tree = tree[key]
    return tree  # type: ignore[return-value]


def recovery_report(recovery: Mapping[str, Any]) -> str:
    """The `--recoverability` table: group recovered and held-out accuracy of the recovered oracle,
    beside the oracle told the group and the single reward on the same pairs."""
    header = f"{'':<44}{'group recovered':>18}{'recovered oracle':>18}{'oracle (told)':>18}{'one reward (BT)':>18}"
    lines = ["recoverability: each person assigned to the oracle head under which their own pairs are likelier,",
             "then scored with it (the ceiling for any method that infers a person's group with these heads)", "",
             header]
    parts = (("seen", "seen, first {} training pairs", "seen_reference"),
             ("seen_in_sample", "seen, all, heads fitted to them too", "seen_reference"),
             ("new_person", "new, first k = {} pairs", "new_person_reference"),
             ("unlabelled_seen", "no labels (hard EM): seen, {} training pairs", "seen_reference"),
             ("unlabelled_new_person", "no labels (hard EM): new, k = {}", "new_person_reference"))
    for part, label, ref in parts:
        reference = [_cell(recovery[ref]["oracle"]), _cell(recovery[ref]["bt"])]
        for name, figure in recovery[part].items():
            what = label.format("all" if name == "all" else name)
            lines.append(f"{what:<44}{_cell(figure['recovered']):>18}{_cell(figure['recovered_oracle']):>18}"
                         + "".join(f"{c:>18}" for c in reference))
        if part != "seen":
            lines.append("")
    people = (recovery["seen"]["all"]["people"]["mean"], recovery["new_person"][str(KS[0])]["people"]["mean"])
    lines.append(f"people per seed: {people[0]:.0f} seen, scored on their held-out pairs (assigned with heads refitted "
                 f"without them, except the in-sample row), {people[1]:.0f} new, scored on the pairs after their "
                 f"{max(KS)}th; no labels: each cluster named after the group most of its members are in")
    return "\n".join(lines)


def _seeded(config: Any, seed: int) -> Any:
    from dataclasses import replace

    return replace(config, seed=seed)


def _scorer(cls: type[PopulationScorer], trained: Any, feats: Features) -> Any:
    """A method's scorer over the bench's features (no base model: every text's vector is known)."""
    scorer = cls(trained, featuriser=None)  # type: ignore[arg-type]
    scorer.remember(list(feats.index), feats.matrix)
    return scorer


def _triples(pairs: Sequence[PrefPair]) -> list[tuple[str, str, str]]:
    return [(p.prompt, p.chosen, p.rejected) for p in pairs]


def _curve(tests: Mapping[str, list[PrefPair]], new_people: Mapping[str, list[PrefPair]], scorer: Any,
           place: Callable[[list[PrefPair]], Any]) -> dict[int, dict[str, tuple[float, int]]]:
    return {k: {u: (scorer.pair_accuracy(place(new_people[u][:k]), t), len(t)) for u, t in tests.items()} for k in KS}


# --- choosing PAL's and VPL's settings on the training split alone ---------------------------

# Candidates against memorising, each a change to the method's own default config. Scored by `select`
# on an inner validation slice of the training pairs; the held-out pairs are never read.
CANDIDATES: dict[str, dict[str, dict[str, Any]]] = {
    "pal": {"defaults (K 2, hard-EM start, no steps)": {}, "K 4": {"prototypes": 4}, "steps 300": {"steps": 300},
            "steps 2000": {"steps": 2000}, "K 4, random start, steps 2000 (before)":
                {"prototypes": 4, "em_restarts": 0, "steps": 2000}},
    "vpl": {"defaults": {}, "steps 300": {"steps": 300}, "weight decay 1": {"weight_decay": 1.0},
            "width 16, latent 2": {"hidden_dim": 16, "latent_dim": 2},
            "width 16, latent 2, steps 300": {"hidden_dim": 16, "latent_dim": 2, "steps": 300}},
}


def select(pairs: Sequence[PrefPair], source: FeatureSource, *, seeds: Sequence[int],
           settings: Settings) -> dict[str, dict[str, list[float]]]:
    """{method: {candidate: inner-validation accuracy per seed}}: each seed's training split is cut
    again (the last 20% of each person's training pairs, `inner_split`), every candidate trains on
    the rest and is scored on that slice with each person's own parameters; the single reward
    (`bt`) is scored alike for reference."""
    from dataclasses import replace

    from bench.tuned_features import inner_split

    scores: dict[str, dict[str, list[float]]] = {"bt": {f"l2 {settings.bt_l2:g}": []}, "pal": {}, "vpl": {}}
    for seed in seeds:
        split = split_people(pairs, seed=seed, settings=settings)
        feats = features_for(source, seed, split)
        fit, val = inner_split(split.train)
        bt = fit_bt(feats, fit, l2=settings.bt_l2)
        scores["bt"][f"l2 {settings.bt_l2:g}"].append(pooled(_per_person(val, lambda _, own, bt=bt, feats=feats: margin_accuracy(bt.margins(feats, own)))))
        for name, change in CANDIDATES["pal"].items():
            config = replace(pal.Config(), **change, seed=seed)
            scorer = _scorer(pal.PalScorer, pal.fit_population(feats.matrix, feats.index, fit, config=config), feats)
            scores["pal"].setdefault(name, []).append(
                pooled(_per_person(val, lambda u, own, s=scorer: s.pair_accuracy(s.weights_of(u), own))))
        for name, change in CANDIDATES["vpl"].items():
            config = replace(vpl.Config(), **change, seed=seed)
            scorer = _scorer(vpl.VplScorer, vpl.fit_population(feats.matrix, feats.index, fit, config=config), feats)
            scores["vpl"].setdefault(name, []).append(
                pooled(_per_person(val, lambda u, own, s=scorer: s.pair_accuracy(s.latent_of(u), own))))
        print(f"after seed {seed}:\n{selection_report(scores)}", file=sys.stderr, flush=True)
    return scores


def selection_report(scores: Mapping[str, Mapping[str, Sequence[float]]]) -> str:
    lines = [f"{'inner validation (training split only)':<44}{'mean +- 95%':>16}  per seed"]
    for method, candidates in scores.items():
        for name, values in candidates.items():
            mean, ci = interval(values)
            lines.append(f"{method.upper() + ': ' + name:<44}{f'{mean:.3f} +- {ci:.3f}':>16}  "
                         + " ".join(f"{v:.3f}" for v in values))
    return "\n".join(lines)


# --- summary over seeds -----------------------------------------------------------------------


def interval(values: Sequence[float]) -> tuple[float, float]:
    """(mean, half-width of the 95% Student t interval over seeds; 0 for one seed)."""
    values = [v for v in values if not math.isnan(v)]
    if not values:
        return math.nan, math.nan
    if len(values) < 2:
        return values[0], 0.0
    return statistics.mean(values), T_975.get(len(values) - 1, 1.96) * statistics.stdev(values) / math.sqrt(len(values))


def summarise(runs: Sequence[dict], groups: Mapping[str, str] | None) -> dict[str, Any]:
    """Means and intervals over seeds; the JSON object `--json` writes."""
    methods = [m for m in METHODS if m in runs[0]["held_out"]]
    group_names = sorted(set(groups.values())) if groups else []
    out: dict[str, Any] = {}
    detail: dict[str, Any] = {"held_out": {}, "held_out_by_group": {}, "new_person": {}, "seeds": len(runs)}
    for m in methods:
        seeds = [pooled(r["held_out"][m]) for r in runs]
        out[m] = interval(seeds)[0]
        detail["held_out"][m] = {"mean": out[m], "ci95": interval(seeds)[1], "per_seed": seeds}
        detail["held_out_by_group"][m] = {}
        for g in group_names:
            members = [u for u, gg in groups.items() if gg == g]  # type: ignore[union-attr]
            mean, ci = interval([pooled(r["held_out"][m], members) for r in runs])
            detail["held_out_by_group"][m][g] = {"mean": mean, "ci95": ci}
        detail["new_person"][m] = {}
        for k in KS:
            mean, ci = interval([pooled(r["new_person"][m][k]) for r in runs])
            detail["new_person"][m][k] = {"mean": mean, "ci95": ci}
    out["new_person"] = {m: {k: detail["new_person"][m][k]["mean"] for k in KS} for m in methods}
    detail["group_recognised"] = {what: dict(zip(("mean", "ci95"), interval([r["group_recognised"][what] for r in runs])))
                                  for what in runs[0]["group_recognised"]}
    out["detail"] = detail
    out["split"] = runs[0]["split"]
    if runs[0].get("recoverability"):
        out["recoverability"] = summarise_recovery([r["recoverability"] for r in runs])
    return out


def goals(summary: Mapping[str, Any]) -> list[tuple[str, float, bool]]:
    """The issue's goals on the dev data: (what, margin by which it is met (negative: missed), met)."""
    if "oracle" not in summary:
        return []
    bt, oracle, k8 = summary["bt"], summary["oracle"], summary["new_person"]
    rows = [("oracle >= BT + 0.05", oracle - bt - 0.05)]
    for m in ("pal", "vpl"):
        rows.append((f"{m.upper()} >= oracle - 0.02", summary[m] - (oracle - 0.02)))
        rows.append((f"{m.upper()} >= BT + 0.03", summary[m] - (bt + 0.03)))
        rows.append((f"{m.upper()} new people, k = 8 >= oracle on them - 0.05", k8[m][8] - (k8["oracle"][8] - 0.05)))
    return [(what, by, by >= 0) for what, by in rows]


def report(summary: Mapping[str, Any], loaded: Loaded, people: int, key: str, seconds: float) -> str:
    detail, lines = summary["detail"], []
    methods = [m for m in METHODS if m in summary]
    split = summary["split"]
    skipped = ", ".join(f"{n} {why}" for why, n in loaded.skipped.items()) or "none"
    lines += [f"{len(loaded.pairs)} pairs from {people} people (left out: {skipped}); features: {key}; "
              f"{detail['seeds']} seeds, {seconds:.0f} s",
              f"per seed: {split['train_pairs']} training pairs, {split['held_out_pairs']} held-out pairs, "
              f"{split['new_people']} new people scored on {split['new_people_test_pairs']} pairs after their 16th",
              "mean over seeds +- 95% interval", ""]
    groups = list(detail["held_out_by_group"][methods[0]])
    lines.append(f"{'held-out pairs of people seen in training':<36}{'all':>16}" + "".join(f"{g:>16}" for g in groups))
    for m in methods:
        cells = [_cell(detail["held_out"][m])] + [_cell(detail["held_out_by_group"][m][g]) for g in groups]
        lines.append(f"{LABELS[m]:<36}" + "".join(f"{c:>16}" for c in cells))
    lines += ["", f"{'new people, placed from k pairs':<36}" + "".join(f"{'k = ' + str(k):>16}" for k in KS)]
    for m in methods:
        note = "" if m in ("pal", "vpl") else " (no k)"
        lines.append(f"{LABELS[m] + note:<36}" + "".join(f"{_cell(detail['new_person'][m][k]):>16}" for k in KS))
    if detail["group_recognised"]:
        lines += ["", "people whose group the oracle's two rewards recognise from their own pairs "
                      "(roughly the most PAL and VPL can recover)"]
        lines += [f"  {what:<34}{_cell(figure):>16}" for what, figure in detail["group_recognised"].items()]
    if "recoverability" in summary:
        lines += ["", recovery_report(summary["recoverability"])]
    checks = goals(summary)
    if checks:
        lines += ["", "goals on this data (margin: + met by, - missed by)"]
        lines += [f"  {what:<52}{by:+.3f}  {'met' if ok else 'MISSED'}" for what, by, ok in checks]
    return "\n".join(lines)


def _cell(figure: Mapping[str, float]) -> str:
    return f"{figure['mean']:.3f} +- {figure['ci95']:.3f}"


def feature_source(pairs: Sequence[PrefPair], name: str, embed: Callable[[list[str]], Any]) -> FeatureSource:
    """Frozen features (computed once, through `embed`), or for a tuned name a maker of each seed's
    features from the encoder tuned on that seed's training pairs alone."""
    from bench.tuned_features import OBJECTIVES

    if name not in OBJECTIVES:
        return pair_features(pairs, embed, name)

    def tuned(seed: int, split: BenchSplit) -> Features:
        from bench.tuned_features import tuned_vectors

        return pair_features(pairs, lambda texts: tuned_vectors(texts, name, split.train, seed=seed)[1],
                             f"{name}, seed {seed}")

    return tuned


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path, help="JSONL (or .jsonl.gz) of {user, prompt, chosen, rejected}")
    parser.add_argument("--users", type=Path, help="CSV of user, group: for the oracle and per-group rows only")
    parser.add_argument("--features", default="smollm2", help="smollm2 (default: the bundled SmolLM2, the best "
                        "measured; about 25 minutes on 2 cores the first time, then cached), minilm, minilm-tuned or "
                        "minilm-tuned-bt (MiniLM fine-tuned on each seed's training split: bench/tuned_features.py), "
                        "or a Hugging Face folder")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from this one")
    parser.add_argument("--select", action="store_true", help="only score PAL's and VPL's candidate settings "
                        "(CANDIDATES) on an inner validation slice of each seed's training pairs")
    parser.add_argument("--recoverability", action="store_true", help="also assign each person to the oracle "
                        "head their own pairs favour and score them with it (needs --users): how much of a person's "
                        "group their pairs reveal")
    parser.add_argument("--json", type=Path, help="write the figures here as one JSON object")
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    start = time.perf_counter()
    loaded = read_pairs(args.data)
    groups = read_groups(args.users) if args.users else None
    from bench.text_features import features

    def embed(texts: list[str]) -> Any:
        return features(texts, args.features, progress=lambda done, total: print(
            f"\rfeatures: {done}/{total} texts", end="" if done < total else "\n", file=sys.stderr, flush=True))[1]

    source = feature_source(loaded.pairs, args.features, embed)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    if args.select:
        print(selection_report(select(loaded.pairs, source, seeds=seeds, settings=Settings())))
        return 0
    if args.recoverability and groups is None:
        parser.error("--recoverability needs --users (the groups the oracle's heads are fitted to)")
    runs = [run_seed(loaded.pairs, source, groups, seed=s, settings=Settings(), recoverability=args.recoverability)
            for s in seeds]
    summary = summarise(runs, groups)
    print(report(summary, loaded, len(by_user(loaded.pairs)), args.features, time.perf_counter() - start))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
