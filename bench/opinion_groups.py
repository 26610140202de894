"""Polis opinion groups on a large conversation: 5,000 participants x 300 statements, 10% voted,
in three latent camps. Times `opinion_groups` as it is and with the reference nearest-centre step
(one (N, k, 2) array reduced over its last axis), checks both give the same groups, prints the ratio.

    .venv/bin/python bench/opinion_groups.py [participants] [statements]
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elicitation.domain import statements as og


def reference_nearest(points: np.ndarray, centers: np.ndarray) -> np.ndarray:
    return np.sum((points[:, None, :] - centers[None, :, :]) ** 2, axis=2).argmin(axis=1)


def votes_matrix(participants: int, statements: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    camp = rng.integers(0, 3, participants)
    stance = rng.choice([-1.0, 0.0, 1.0], size=(3, statements))
    noise = rng.choice([-1.0, 0.0, 1.0], size=(participants, statements))
    votes = np.where(rng.random((participants, statements)) < 0.8, stance[camp], noise)
    votes[rng.random((participants, statements)) < 0.9] = np.nan
    return votes


def timed(votes: np.ndarray) -> tuple[float, og.OpinionGroups]:
    start = time.perf_counter()
    groups = og.opinion_groups(votes)
    return time.perf_counter() - start, groups


def main() -> int:
    participants = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
    statements = int(sys.argv[2]) if len(sys.argv) > 2 else 300
    votes = votes_matrix(participants, statements)
    fast_seconds, fast = timed(votes)
    current = og._nearest
    og._nearest = reference_nearest
    try:
        slow_seconds, slow = timed(votes)
    finally:
        og._nearest = current
    same = np.array_equal(fast.labels, slow.labels) and np.array_equal(fast.base_labels, slow.base_labels)
    print(f"opinion groups, {participants} participants x {statements} statements, "
          f"{int((~np.isnan(votes)).sum())} votes, {fast.k} groups found\n")
    print(f"{'nearest-centre step':<30}{'seconds':>10}")
    print(f"{'reference (N, k, 2) array':<30}{slow_seconds:>10.2f}")
    print(f"{'per-dimension sums':<30}{fast_seconds:>10.2f}")
    print(f"\nspeed-up {slow_seconds / fast_seconds:.1f}x; identical groups: {same}")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
