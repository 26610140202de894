"""Splitting examples for evaluation so that no held-out prompt was seen in training. No Django."""
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
