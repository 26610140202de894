"""bench/population_real.py's `--recoverability` diagnostic on synthetic populations: people whose
groups disagree on every pair are recovered from their own pairs, people whose group labels are
drawn at random are not."""
from __future__ import annotations

import random
import statistics

from bench import population_real as bench
from tests.bench.test_population_real import embed, synthetic

SEEDS = range(4)


def recovery(people: int, pairs_each: int, *, random_labels: bool) -> list[dict]:
    """`recover_groups` over a few seeds, the oracle's heads fitted as the bench fits them. With
    random labels only camp "a" is kept, so the group a person is labelled with says nothing about
    their pairs."""
    pairs, groups = synthetic(people=people, pairs_each=pairs_each)
    if random_labels:  # everyone of one camp (they all prefer alike), each label a coin flip
        pairs = [p for p in pairs if groups[p.user] == "a"]
        rng = random.Random(7)
        groups = {u: rng.choice("ab") for u, g in groups.items() if g == "a"}
    feats = bench.pair_features(pairs, embed, "synthetic")
    settings = bench.Settings()
    out = []
    for seed in SEEDS:
        split = bench.split_people(pairs, seed=seed, settings=settings)
        heads = bench.fit_oracle(feats, split.train, groups, l2=settings.bt_l2)
        bt = bench.fit_bt(feats, split.train, l2=settings.bt_l2)
        out.append(bench.recover_groups(heads, bt, feats, split, groups, l2=settings.bt_l2, seed=seed))
    return out


def mean(runs: list[dict], *path: str) -> float:
    return statistics.mean(bench._dig(r, path) for r in runs)


def test_groups_that_disagree_on_every_pair_are_recovered_from_a_few_pairs():
    runs = recovery(30, 30, random_labels=False)
    assert mean(runs, "seen", "all", "recovered") >= 0.95 and mean(runs, "seen_in_sample", "all", "recovered") >= 0.95
    assert mean(runs, "new_person", "8", "recovered") >= 0.95 and mean(runs, "new_person", "16", "recovered") >= 0.95
    # Scored with the head they were assigned to, people do as well as the oracle told their group.
    for part, name in (("seen", "all"), ("new_person", "16")):
        reference = part + "_reference" if part == "new_person" else "seen_reference"
        assert mean(runs, part, name, "recovered_oracle") >= mean(runs, reference, "oracle") - 0.03
        assert mean(runs, part, name, "recovered_oracle") >= mean(runs, reference, "bt") + 0.3
    # Here every pair tells the group, so even one pair recovers most people.
    assert mean(runs, "new_person", "1", "recovered") >= 0.8
    # Without the labels, two heads found by hard EM split the people along their groups.
    assert mean(runs, "unlabelled_seen", "all", "recovered") >= 0.95
    assert mean(runs, "unlabelled_new_person", "8", "recovered_oracle") >= mean(runs, "new_person_reference", "oracle") - 0.05


def test_random_group_labels_are_recovered_only_by_chance():
    runs = recovery(120, 30, random_labels=True)  # 60 people kept
    for k in ("1", "8", "16"):
        assert abs(mean(runs, "new_person", k, "recovered") - 0.5) <= 0.15
    # Seen people, assigned with heads that never saw them: chance too. In-sample (the heads were
    # fitted to their training pairs too) it is a little optimistic.
    assert abs(mean(runs, "seen", "all", "recovered") - 0.5) <= 0.15
    assert mean(runs, "seen_in_sample", "all", "recovered") <= 0.8
    # With labels that say nothing, the recovered oracle is no better than the oracle or one reward.
    assert abs(mean(runs, "new_person", "16", "recovered_oracle") - mean(runs, "new_person_reference", "bt")) <= 0.1


def test_the_table_and_the_json_key():
    runs = recovery(16, 24, random_labels=False)
    summary = bench.summarise_recovery(runs)
    assert set(summary) == {"seen", "seen_in_sample", "seen_reference", "new_person", "new_person_reference",
                            "unlabelled_seen", "unlabelled_new_person"}
    assert set(summary["new_person"]) == {str(k) for k in bench.KS}
    assert set(summary["seen"]) == {str(n) for n in bench.SEEN_PREFIXES} | {"all"}
    assert len(summary["seen"]["all"]["recovered"]["per_seed"]) == len(SEEDS)
    table = bench.recovery_report(summary)
    assert "new, first k = 8 pairs" in table and "seen, all, heads fitted to them too" in table
