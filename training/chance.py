"""Is a run's held-out accuracy better than a coin? A 95% Wilson score interval on the held-out
pairs decides: when it reaches down to 0.5, the run has not shown that it learnt anything that
carries to pairs it did not see, however its training numbers look.

Wilson rather than the normal approximation because held-out sets here are often a few dozen
pairs and accuracies sit near 0.5 or 1, where the normal interval is too narrow or leaves [0, 1].
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

CHANCE = 0.5  # a pair has two answers, and the methods score both orders
Z_95 = 1.959964
# Held-out accuracy, and the summary count of the pairs it was measured on, per method's naming.
HELD_OUT_COUNTS = ("held_out_examples", "held_out_pairs")


@dataclass(frozen=True)
class HeldOutVerdict:
    accuracy: float
    pairs: int
    low: float
    high: float

    @property
    def better_than_chance(self) -> bool:
        return self.low > CHANCE

    @property
    def sentence(self) -> str:
        interval = f"{self.accuracy:.2f} on {self.pairs} held-out pair{'s' if self.pairs != 1 else ''} " \
                   f"(95% interval {self.low:.2f}–{self.high:.2f})"
        if self.better_than_chance:
            return f"Held-out accuracy {interval}: better than chance."
        return (f"Not better than chance: held-out accuracy {interval} includes 0.50, so this run has not shown "
                "that it learnt anything beyond its training pairs. Do not rely on this model; give it more data "
                "or steps, or a stronger base model.")


def wilson_interval(successes: float, n: int, z: float = Z_95) -> tuple[float, float]:
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def held_out_verdict(metrics: Mapping[str, Any], summary: Mapping[str, Any]) -> HeldOutVerdict | None:
    """None when the run measured no held-out accuracy (or did not say on how many pairs)."""
    accuracy = metrics.get("eval_accuracy")
    pairs = next((int(summary[key]) for key in HELD_OUT_COUNTS if summary.get(key)), 0)
    if accuracy is None or pairs <= 0:
        return None
    low, high = wilson_interval(accuracy * pairs, pairs)
    return HeldOutVerdict(accuracy=float(accuracy), pairs=pairs, low=low, high=high)
