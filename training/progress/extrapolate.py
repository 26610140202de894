"""ProgressGym's extrapolative preferences: each pair's preference over the last n + 1 steps,
carried `ahead` steps into the future by finite differences. Pure Python, no Django.

At each step a pair (the same prompt, the same two responses, under the same system message) has a
net preference in [-1, 1] towards its first response in a fixed order: the share of that step's
judgments for it minus the share against it; 0 where the pair was not judged in that step. With one
judgment per pair and step, as in ProgressGym, this is its vote of +1 or -1 (0 when missing).

Extrapolation of order k (at most the number of earlier steps) assumes the (k + 1)-th difference of
the sequence is zero, so the next value is sum_i C(k + 1, i) * (-1) ** (k - i) * p_i over the last
k + 1 values p_0 ... p_k; repeated `ahead` times, each new value joining the window. Order 1 gives
2 * p_now - p_before. Only pairs judged in the current step are kept (ProgressGym drops the others).
The sign of the result picks which response is chosen; its size, capped at MAX_WEIGHT, is how many
times the pair is repeated in the step's DPO data (ProgressGym's weighting).
"""
from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from math import comb

MAX_WEIGHT = 5


def coefficients(order: int) -> list[int]:
    """The weights of the last order + 1 values in the next one, oldest first."""
    if order < 0:
        raise ValueError("order must be 0 or more")
    return [comb(order + 1, i) * (-1) ** (order - i) for i in range(order + 1)]


def extrapolated(history: Sequence[Mapping[Hashable, float]], *, order: int, ahead: int = 1) -> dict[Hashable, float]:
    """For each pair in the last step of `history` (one mapping of pair -> net preference per step,
    oldest first), its preference `ahead` steps after the last."""
    if not history:
        raise ValueError("no steps to extrapolate from")
    if ahead < 1:
        raise ValueError("ahead must be 1 or more")
    k = min(order, len(history) - 1)
    coefs = coefficients(k)
    window = history[len(history) - k - 1 :]
    result = {}
    for key in history[-1]:
        values = [step.get(key, 0.0) for step in window]
        for _ in range(ahead):
            values = values[1:] + [sum(c * v for c, v in zip(coefs, values))]
        result[key] = values[-1]
    return result


def repeats(value: float, judgments: int) -> int:
    """How many rows a pair with extrapolated preference `value` gets, judged `judgments` times in
    the current step: |value| per judgment, rounded, at least one and at most MAX_WEIGHT per judgment
    (with one judgment and votes of +-1, ProgressGym's min(|value|, 5))."""
    if value == 0:
        return 0
    return max(1, min(round(abs(value) * judgments), MAX_WEIGHT * judgments))
