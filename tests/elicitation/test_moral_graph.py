"""Moral-graph aggregation against hand-computed MAI `summarizeGraph` results and the reference."""
from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import numpy as np
import pytest

from elicitation.domain.moral_graph import (
    GraphEdge,
    MoralGraph,
    Tally,
    Votes,
    aggregate,
    aggregate_reference,
    keeps_edge,
    split_by_group,
    tally_reference,
    votes_as_of,
    weighted_page_rank,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
A, B, C, D = 1, 2, 3, 4
VALUES = [{"id": i, "title": f"Value {i}"} for i in (A, B, C, D)]


def vote(frm, to, relationship="upgrade", user=1, context="ctx", at=T0):
    return (user, frm, to, context, relationship, at)


def many(n, frm, to, relationship="upgrade", first_user=100, **kw):
    return [vote(frm, to, relationship, user=first_user + i, **kw) for i in range(n)]


def graph_of(rows):
    return aggregate(Votes.from_rows(rows), VALUES)


def edge(graph, frm, to):
    return next((e for e in graph.edges if (e.source_value_id, e.wiser_value_id) == (frm, to)), None)


def counts(tally):
    return (tally.marked_wiser, tally.marked_not_wiser, tally.marked_less_wise, tally.marked_unsure,
            tally.impressions)


def test_one_upgrade_vote_counts_wiser_forward_and_less_wise_backward():
    t = tally_reference([vote(A, B)])
    assert counts(t[A, B].tally) == (1, 0, 0, 0, 1)
    assert counts(t[B, A].tally) == (0, 0, 1, 0, 1)

    # In the vectorised path: three users find B->A an upgrade, user 7 finds A->B one.
    # The kept edge (B, A) shows user 7's vote as markedLessWise and an impression.
    rows = many(3, B, A) + [vote(A, B, user=7)]
    graph = graph_of(rows)
    assert [(e.source_value_id, e.wiser_value_id) for e in graph.edges] == [(B, A)]
    assert counts(edge(graph, B, A).tally) == (3, 0, 1, 0, 4)
    split = split_by_group(Votes.from_rows(rows), graph, {7: "seven", 100: "hundred"})
    assert counts(split[B, A]["seven"]) == (0, 0, 1, 0, 1)
    assert counts(split[B, A]["hundred"]) == (1, 0, 0, 0, 1)


def test_no_upgrade_and_not_sure_count_forward_and_add_only_an_impression_backward():
    t = tally_reference([vote(A, B, "no_upgrade"), vote(A, B, "not_sure", user=2)])
    assert counts(t[A, B].tally) == (0, 1, 0, 1, 2)
    assert counts(t[B, A].tally) == (0, 0, 0, 0, 2)
    assert t[B, A].tally.wiser_likelihood == 0  # total 0: values-tools' guard, not dft's NaN


def test_entropy_includes_impressions():
    # 3 upgrades and 1 no_upgrade on A->B: counts (wiser, notWiser, lessWise, unsure, impressions)
    # = (3, 1, 0, 0, 4), 8 in all. H = 3/8 log2(8/3) + 1/8 log2(8) + 4/8 log2(2)
    #   = 0.375 * 1.415037 + 0.375 + 0.5 = 1.405639 bits. Without impressions it would be 0.811.
    graph = graph_of(many(3, A, B) + [vote(A, B, "no_upgrade", user=9)])
    e = edge(graph, A, B)
    assert counts(e.tally) == (3, 1, 0, 0, 4)
    assert e.tally.entropy == pytest.approx(1.405639, abs=1e-6)
    assert e.tally.wiser_likelihood == 0.75  # (3 - 0) / 4

    # Unanimous upgrades still carry one bit: (2, 0, 0, 0, 2) -> H = 2 * (1/2 * 1) = 1.
    assert edge(graph_of(many(2, A, B)), A, B).tally.entropy == 1.0


def test_wiser_threshold_is_two_inclusive():
    assert edge(graph_of(many(2, A, B)), A, B) is not None
    assert graph_of(many(1, A, B)).edges == ()  # likelihood 1 and entropy 1 pass; wiser 1 does not


def test_likelihood_threshold_is_inclusive_at_033():
    # 33 upgrades, 67 no_upgrades: (33 - 0) / 100 is the double nearest 0.33, i.e. 0.33 itself.
    # Entropy (33, 67, 0, 0, 100) / 200 = 1.457 bits, under 1.69.
    kept = edge(graph_of(many(33, A, B) + many(67, A, B, "no_upgrade", first_user=500)), A, B)
    assert kept.tally.wiser_likelihood == 0.33
    # 329 and 671: likelihood 0.329, entropy 1.457 again; only the likelihood fails.
    dropped = graph_of(many(329, A, B) + many(671, A, B, "no_upgrade", first_user=5000))
    assert dropped.edges == ()
    assert keeps_edge(2, 0.33, 1.0) and not keeps_edge(2, np.nextafter(0.33, 0), 1.0)


def test_entropy_threshold_is_inclusive_at_169():
    # Kept: 9 upgrades, 3 no_upgrade, 9 not_sure on A->B and 2 no_upgrade on B->A:
    # counts (9, 3, 0, 9, 23), 44 in all; H = 2 * 9/44 log2(44/9) + 3/44 log2(44/3) + 23/44 log2(44/23)
    #   = 2 * 0.468307 + 0.264175 + 0.489200 = 1.689989 <= 1.69. Likelihood 9/21 = 0.43.
    rows = (many(9, A, B) + many(3, A, B, "no_upgrade", first_user=200)
            + many(9, A, B, "not_sure", first_user=300) + many(2, B, A, "no_upgrade", first_user=400))
    kept = edge(graph_of(rows), A, B)
    assert counts(kept.tally) == (9, 3, 0, 9, 23)
    assert kept.tally.entropy == pytest.approx(1.689989, abs=1e-6)
    # Dropped: 7 upgrades, 2 no_upgrade, 5 not_sure, 1 no_upgrade back: (7, 2, 0, 5, 15), 29 in all;
    # H = 7/29 log2(29/7) + 2/29 log2(29/2) + 5/29 log2(29/5) + 15/29 log2(29/15) = 1.690240 > 1.69.
    rows = (many(7, A, B) + many(2, A, B, "no_upgrade", first_user=200)
            + many(5, A, B, "not_sure", first_user=300) + many(1, B, A, "no_upgrade", first_user=400))
    assert tally_reference(rows)[A, B].tally.entropy == pytest.approx(1.690240, abs=1e-6)
    assert graph_of(rows).edges == ()
    # The bound itself, to the last bit.
    assert keeps_edge(2, 1.0, 1.69) and not keeps_edge(2, 1.0, np.nextafter(1.69, 2))


def test_weighted_page_rank_by_hand_on_a_chain_with_a_dangling_node():
    # A->B (0.5), A->C (0.25), B->C (1.0). Normalised over A's out-edges: 2/3 and 1/3.
    # N = 3, start 1/3 each; every step starts at 0.15 / 3 = 0.05 and adds 0.85 * rank[src] * share.
    # Nothing points at A: A = 0.05 from step 1 on.
    # B = 0.05 + 0.85 * A * 2/3 = 0.05 + 0.0283333 = 0.0783333 from step 2 on.
    # C = 0.05 + 0.85 * A * 1/3 + 0.85 * B = 0.05 + 0.0141667 + 0.0665833 = 0.13075 from step 3 on.
    # C is dangling and MAI does not hand its rank back, so the ranks sum to 0.259, not 1.
    ranks = weighted_page_rank(np.array([A, A, B]), np.array([B, C, C]), np.array([0.5, 0.25, 1.0]))
    assert ranks == pytest.approx({A: 0.05, B: 0.0783333333, C: 0.13075}, abs=1e-9)


def test_weighted_page_rank_by_hand_on_a_cycle():
    # A->B (0.5), A->C (1.0), B->C (0.8), C->A (0.6): shares A->B 1/3, A->C 2/3, B->C 1, C->A 1.
    # Fixed point: a = 0.05 + 0.85 c;  b = 0.05 + 0.85 a / 3;  c = 0.05 + 0.85 * 2a/3 + 0.85 b.
    # So c = 0.0925 + 0.8075 a, a = 0.128625 / 0.313625 = 1029/2509, b = 417/2509, c = 1063/2509
    # (sum 1: no dangling node). 100 steps contract the error by 0.85^100, about 1e-7.
    ranks = weighted_page_rank(np.array([A, A, B, C]), np.array([B, C, C, A]), np.array([0.5, 1.0, 0.8, 0.6]))
    assert ranks == pytest.approx({A: 1029 / 2509, B: 417 / 2509, C: 1063 / 2509}, abs=1e-6)


def test_weighted_page_rank_skips_a_source_whose_weights_sum_to_zero():
    # MAI's `if (totalWeight > 0)`: A's only edge carries weight 0, so B gets just 0.15 / 2.
    assert weighted_page_rank(np.array([A]), np.array([B]), np.array([0.0])) == pytest.approx(
        {A: 0.075, B: 0.075}, abs=1e-12)


def test_graph_values_carry_page_rank_over_kept_edges():
    # Edges A->B (likelihood 1) and A->C (3 upgrades, 1 no_upgrade: likelihood 0.75).
    # B = 0.05 + 0.85 * 0.05 * 1/1.75, C = 0.05 + 0.85 * 0.05 * 0.75/1.75; D is on no edge.
    graph = graph_of(many(2, A, B) + many(3, A, C) + [vote(A, C, "no_upgrade", user=9)])
    assert [v.id for v in graph.values] == [A, B, C]
    assert {v.id: v.page_rank for v in graph.values} == pytest.approx(
        {A: 0.05, B: 0.05 + 0.0425 / 1.75, C: 0.05 + 0.0425 * 0.75 / 1.75}, abs=1e-12)


def test_contexts_and_edge_order_follow_mais_two_passes():
    rows = [
        vote(C, D, user=1, context="late"),
        vote(A, B, user=2, context="x"),
        vote(A, B, user=3, context="y"),
        vote(A, B, user=4, context="x"),
        vote(C, D, user=5, context="early"),
        vote(B, A, "no_upgrade", user=6, context="z"),  # its context reaches (A, B) on the reverse pass
    ]
    graph = graph_of(rows)
    assert [(e.source_value_id, e.wiser_value_id, e.contexts) for e in graph.edges] == [
        (C, D, ("late", "early")),
        (A, B, ("x", "y", "z")),
    ]


def test_to_mai_json():
    graph = graph_of(many(2, A, B, context="When grieving"))
    # Two nodes: A = 0.15 / 2 = 0.075; B = 0.075 + 0.85 * 0.075 = 0.13875.
    assert graph.to_mai_json() == {
        "values": [
            {"id": A, "title": "Value 1", "pageRank": pytest.approx(0.075, abs=1e-12)},
            {"id": B, "title": "Value 2", "pageRank": pytest.approx(0.13875, abs=1e-12)},
        ],
        "edges": [{
            "sourceValueId": A,
            "wiserValueId": B,
            "contexts": ["When grieving"],
            "counts": {"markedWiser": 2, "markedNotWiser": 0, "markedLessWise": 0, "markedUnsure": 0,
                       "impressions": 2},
            "summary": {"wiserLikelihood": 1.0, "entropy": 1.0},
        }],
    }


def test_votes_as_of_keeps_only_votes_cast_strictly_before():
    votes = Votes.from_rows(
        many(2, A, B, at=T0) + [vote(B, A, user=3, at=T0 + timedelta(hours=1))]
        + many(2, C, D, at=T0 + timedelta(hours=2))
    )
    assert aggregate(votes_as_of(votes, T0), VALUES).edges == ()
    early = aggregate(votes_as_of(votes, T0 + timedelta(hours=1)), VALUES)
    assert [counts(e.tally) for e in early.edges] == [(2, 0, 0, 0, 2)]
    # The same instant written in another zone; one microsecond later the B->A vote counts.
    later = votes_as_of(votes, (T0 + timedelta(hours=1, microseconds=1)).astimezone(timezone(timedelta(hours=2))))
    assert len(later) == 3
    assert [counts(e.tally) for e in aggregate(later, VALUES).edges] == [(2, 0, 1, 0, 3)]
    with pytest.raises(ValueError, match="naive"):
        votes_as_of(votes, datetime(2026, 3, 1))


def test_split_by_group():
    rows = [
        vote(A, B, user=1), vote(A, B, user=2), vote(B, A, user=3),  # dem: 2 up, 1 back
        vote(A, B, user=4), vote(A, B, user=5),  # rep: 2 up
        vote(A, B, user=6),  # no group
        vote(C, D, user=4), vote(C, D, user=5),  # rep only
    ]
    votes = Votes.from_rows(rows)
    graph = aggregate(votes, VALUES)
    # Whole graph: (A, B) = (5, 0, 1, 0, 6): likelihood 4/6, entropy 1.325; (C, D) = (2, 0, 0, 0, 2).
    assert counts(edge(graph, A, B).tally) == (5, 0, 1, 0, 6)
    split = split_by_group(votes, graph, {1: "dem", 2: "dem", 3: "dem", 4: "rep", 5: "rep"})
    assert set(split) == {(A, B), (C, D)}
    dem, rep = split[A, B]["dem"], split[A, B]["rep"]
    # dem: (2, 0, 1, 0, 3): likelihood (2 - 1) / 3; entropy of (2, 1, 3) / 6 = 1.459148.
    assert counts(dem) == (2, 0, 1, 0, 3)
    assert dem.wiser_likelihood == pytest.approx(1 / 3) and dem.entropy == pytest.approx(1.459148, abs=1e-6)
    assert counts(rep) == (2, 0, 0, 0, 2) and (rep.wiser_likelihood, rep.entropy) == (1.0, 1.0)
    assert set(split[C, D]) == {"rep"}


def test_unknown_relationship_is_rejected():
    with pytest.raises(ValueError, match="unknown relationship"):
        Votes.from_rows([vote(A, B, "sideways")])


def random_rows(seed: int, n_votes: int = 4000, n_values: int = 30):
    """Votes leaning towards higher ids, so that many edges pass the thresholds."""
    rng = random.Random(seed)
    contexts = [f"When {i}" for i in range(6)] if seed % 2 else list(range(6))
    rows = []
    for i in range(n_votes):
        a, b = rng.sample(range(1, n_values + 1), 2)
        p_up = 0.8 if b > a else 0.25
        r = rng.random()
        relationship = "upgrade" if r < p_up else "no_upgrade" if r < p_up + (1 - p_up) * 0.7 else "not_sure"
        rows.append((rng.randrange(50), a, b, rng.choice(contexts), relationship, T0 + timedelta(seconds=i)))
    return rows, [{"id": i} for i in range(n_values, 0, -1)]


def assert_same_graph(fast: MoralGraph, slow: MoralGraph) -> None:
    def exact(e: GraphEdge) -> tuple:  # everything but entropy, which may differ in the last bit
        return e.source_value_id, e.wiser_value_id, e.contexts, replace(e.tally, entropy=0)

    assert [exact(e) for e in fast.edges] == [exact(e) for e in slow.edges]
    assert [e.tally.entropy for e in fast.edges] == pytest.approx([e.tally.entropy for e in slow.edges], abs=1e-12)
    assert [v.id for v in fast.values] == [v.id for v in slow.values]
    assert [v.page_rank for v in fast.values] == pytest.approx([v.page_rank for v in slow.values], abs=1e-9)


@pytest.mark.parametrize("seed", range(5))
def test_vectorised_matches_reference_on_random_votes(seed):
    rows, values = random_rows(seed)
    fast = aggregate(Votes.from_rows(rows), values)
    assert len(fast.edges) > 50 and len(fast.values) > 20  # a real graph, not an empty agreement
    assert_same_graph(fast, aggregate_reference(rows, values))

    cutoff = T0 + timedelta(seconds=1500)
    assert_same_graph(aggregate(votes_as_of(Votes.from_rows(rows), cutoff), values),
                      aggregate_reference([r for r in rows if r[5] < cutoff], values))


@pytest.mark.parametrize("seed", range(3))
def test_split_matches_reference_counting_per_group(seed):
    rows, values = random_rows(seed)
    votes = Votes.from_rows(rows)
    graph = aggregate(votes, values)
    group_of = {u: ("odd" if u % 2 else "even") for u in range(45)}  # users 45-49 have no group
    split = split_by_group(votes, graph, group_of)
    for group in ("odd", "even"):
        alone = tally_reference([r for r in rows if group_of.get(r[0]) == group])
        for e in graph.edges:
            key = (e.source_value_id, e.wiser_value_id)
            want: Tally | None = alone[key].tally if key in alone else None
            got = split.get(key, {}).get(group)
            assert (got is None) == (want is None)
            if got is not None:
                assert replace(got, entropy=0) == replace(want, entropy=0)
                assert got.entropy == pytest.approx(want.entropy, abs=1e-12)
