"""Moral-graph aggregation: numpy `aggregate` against the plain-dict reference, on 1M votes.

Run from the repo root: `.venv/bin/python bench/moral_graph.py`. Exits non-zero if the two
disagree or a target (>= 10x faster than the reference, < 2 s) is missed. Each is timed from its
own input form, already in memory: columns for `aggregate`, row tuples for the reference.
"""
from __future__ import annotations

import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elicitation.domain.moral_graph import RELATIONSHIPS, Votes, aggregate, aggregate_reference

N_VOTES = 1_000_000
N_VALUES = 20_000
UPGRADES_PER_VALUE = 5  # LLM-proposed A -> B stories per value
N_CONTEXTS = 2_000
N_USERS = 50_000


def synthetic_votes(seed: int = 0) -> tuple[Votes, list[dict]]:
    """Upgrade votes shaped like a study: proposed transitions, popular ones voted on more,
    answers leaning towards the value with the higher latent wisdom, one main context per story."""
    rng = np.random.default_rng(seed)
    wisdom = rng.normal(size=N_VALUES)
    # Stories go to nearby values (cards on the same question), a fifth of them both ways.
    start = np.repeat(np.arange(N_VALUES), UPGRADES_PER_VALUE)
    end = (start + rng.integers(1, 200, len(start))) % N_VALUES
    back = rng.random(len(start)) < 0.2
    start, end = np.concatenate([start, end[back]]), np.concatenate([end, start[back]])
    popularity = rng.pareto(1.5, len(start)) + 1
    story = rng.choice(len(start), N_VOTES, p=popularity / popularity.sum())
    from_id, to_id = start[story], end[story]

    p_upgrade = 1 / (1 + np.exp(-2.5 * (wisdom[to_id] - wisdom[from_id]) - 0.5))
    draw = rng.random(N_VOTES)
    relationship = np.where(draw < p_upgrade, 0, np.where(draw < p_upgrade + (1 - p_upgrade) * 0.75, 1, 2))

    names = np.array([f"When the user asks about situation {i}" for i in range(N_CONTEXTS)], dtype=object)
    home = rng.integers(0, N_CONTEXTS, len(start))[story]
    context = np.where(rng.random(N_VOTES) < 0.9, home, rng.integers(0, N_CONTEXTS, N_VOTES))

    seconds = np.sort(rng.integers(0, 30 * 24 * 3600, N_VOTES))
    votes = Votes(
        user_id=rng.integers(0, N_USERS, N_VOTES).astype(np.int64),
        from_id=from_id.astype(np.int64) + 1,
        to_id=to_id.astype(np.int64) + 1,
        context_id=names[context],
        relationship=relationship.astype(np.int8),
        created_at=np.datetime64("2026-01-01T00:00:00", "us") + seconds.astype("timedelta64[s]"),
    )
    values = [{"id": i + 1, "title": f"Value {i + 1}"} for i in range(N_VALUES)]
    return votes, values


def as_rows(votes: Votes) -> list[tuple]:
    names = np.array(RELATIONSHIPS, dtype=object)[votes.relationship].tolist()
    return list(zip(votes.user_id.tolist(), votes.from_id.tolist(), votes.to_id.tolist(),
                    votes.context_id.tolist(), names, votes.created_at.tolist()))


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def assert_same(fast, slow) -> float:
    """Raises unless the graphs agree; returns the largest PageRank difference."""
    assert len(fast.edges) == len(slow.edges), (len(fast.edges), len(slow.edges))
    for f, s in zip(fast.edges, slow.edges):
        assert (f.source_value_id, f.wiser_value_id, f.contexts) == (s.source_value_id, s.wiser_value_id, s.contexts)
        # Counts and likelihood exactly; entropy to an ulp or so (numpy's log2 is not libm's).
        assert replace(f.tally, entropy=0) == replace(s.tally, entropy=0), (f, s)
        assert abs(f.tally.entropy - s.tally.entropy) <= 1e-12, (f, s)
    assert [v.id for v in fast.values] == [v.id for v in slow.values]
    worst = max(abs(f.page_rank - s.page_rank) for f, s in zip(fast.values, slow.values))
    assert worst <= 1e-9, worst
    return worst


def main() -> int:
    votes, values = synthetic_votes()
    rows = as_rows(votes)
    aggregate(votes, values[:10])  # warm numpy's code paths; not timed
    fast, fast_s = timed(aggregate, votes, values)
    slow, slow_s = timed(aggregate_reference, rows, values)
    worst = assert_same(fast, slow)

    ratio = slow_s / fast_s
    print(f"{N_VOTES:,} votes, {N_VALUES:,} values, {len(np.unique(votes.from_id * (N_VALUES + 1) + votes.to_id)):,}"
          f" voted pairs, {len(fast.edges):,} edges kept, {len(fast.values):,} ranked values")
    print(f"{'implementation':<22}{'seconds':>10}")
    print(f"{'numpy aggregate':<22}{fast_s:>10.3f}")
    print(f"{'dict reference':<22}{slow_s:>10.3f}")
    print(f"{'speed-up':<22}{ratio:>9.1f}x   (target >= 10x)")
    print(f"numpy under 2 s: {'yes' if fast_s < 2 else 'NO'}; outputs equal: edges, order, contexts, counts,"
          f" likelihoods exactly; largest PageRank difference {worst:.1e}")
    return 0 if ratio >= 10 and fast_s < 2 else 1


if __name__ == "__main__":
    sys.exit(main())
