"""Splitting examples for evaluation so that no held-out prompt was seen in training, and scoring
them. No Django."""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def split_by_prompt(examples: Sequence[T], fraction: float, seed: int) -> tuple[list[T], list[T]]:
    """(train, held out): about `fraction` of the distinct prompts, drawn with `seed`, are held out
    with every example (anything with a `.prompt`) that uses them."""
    prompts = sorted({e.prompt for e in examples})
    random.Random(seed).shuffle(prompts)
    held = set(prompts[: round(len(prompts) * fraction)])
    return [e for e in examples if e.prompt not in held], [e for e in examples if e.prompt in held]


def pair_wins(chosen: Sequence[float], rejected: Sequence[float]) -> list[float]:
    """Per pair, 1 when the chosen response's reward is the higher, 0 when it is the lower, and 0.5
    for an exact tie (two responses the model cannot tell apart, or a model that has not moved from
    its reference): a tie is a coin flip, not an error."""
    return [(c > r) + 0.5 * (c == r) for c, r in zip(chosen, rejected, strict=True)]
