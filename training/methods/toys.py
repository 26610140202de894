"""Toy tasks with known answers, for tests and benches; each method's `Config.tiny()` is sized to
learn its task on CPU in seconds. Not a method, and no method imports it. No Django.

- A constitution (SALMON): two principles, "Keep it short." and "Be kind.", and response pairs
  that differ in length only or in warmth only, so exactly one principle decides each; a judge
  that knows which.
- A split population (PAL, VPL): even-numbered people prefer the short answer, odd-numbered the
  long one, so a single reward for everybody can be right for only half of them.
- The same population with system messages (Janus): people who prefer short answers ask for
  brevity, the others for detail.
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from training.methods import janus, salmon
from training.methods.common.population import PrefPair

CORE = ("Do it slowly.", "Ask a friend.", "Start small.", "Take your time.", "Keep it simple.", "Just try it.")
MORE = ("Then check it twice, and wait a bit before the next step.",
        "First read the steps, then gather what you need and go.",
        "Go one step at a time, and note what went wrong each time.")

# --- a constitution (SALMON) --------------------------------------------------------------------

PRINCIPLES = (
    salmon.Principle("Concise", "Keep it short.", "Make it long."),
    salmon.Principle("Warm", "Be kind.", "Be cold."),
)
TOPICS = (
    "boil an egg", "tie a knot", "plant a seed", "fix a tire", "learn a song", "clean a pan", "fold a shirt",
    "bake bread", "write a card", "start a fire", "paint a wall", "wash a car", "read a map", "make tea",
    "save money", "walk a dog", "sew a button", "cook rice", "plan a trip", "calm down", "sleep well",
    "find a job", "make friends", "say sorry",
)
KIND, COLD = ("Good luck, friend!", "You can do it!"), ("Obviously.", "Whatever.")


def principle_pairs(topics: Sequence[str], per_topic: int, seed: int) -> list[salmon.Pair]:
    """Pairs that differ in length only or in warmth only, so exactly one principle decides each."""
    rng = random.Random(seed)
    pairs = []
    for topic in topics:
        for _ in range(per_topic):
            core, more = rng.choice(CORE), rng.choice(MORE)
            if rng.random() < 0.5:  # length differs
                tone = rng.choice(KIND + COLD)
                a, b = f"{core} {tone}", f"{core} {more} {tone}"
            else:  # warmth differs
                a, b = f"{core} {rng.choice(KIND)}", f"{core} {rng.choice(COLD)}"
            pairs.append(salmon.Pair(f"How do I {topic}?", *((a, b) if rng.random() < 0.5 else (b, a))))
    return pairs


@salmon.per_query
def length_judge(principle: str, prompt: str, first: str, second: str) -> float:
    """Prefers the shorter response by word count, whatever the principle (tests of the labelling)."""
    return float(len(second.split()) - len(first.split()))


@salmon.per_query
def principle_judge(principle: str, prompt: str, first: str, second: str) -> float:
    """A judge that knows the toy constitution: a stand-in for a policy model's A/B logprobs."""
    if principle == "Keep it short.":
        return float(_longer(second) - _longer(first))
    if principle == "Be kind.":
        return float(_warmth(first) - _warmth(second))
    return 0.0


def _longer(text: str) -> int:
    return sum(m in text for m in MORE)


def _warmth(text: str) -> int:
    return sum(k in text for k in KIND) - sum(c in text for c in COLD)


# --- a split population (PAL, VPL) --------------------------------------------------------------

PROMPTS = tuple(f"How do I {topic}?" for topic in (
    "boil an egg", "tie a knot", "plant a seed", "fix a tire", "learn a song", "clean a pan", "fold a shirt",
    "bake bread", "write a card", "paint a wall", "read a map", "make tea", "save money", "sew a button",
))


def population(people: int, pairs_per_person: int, seed: int) -> list[PrefPair]:
    """Even-numbered people prefer the short answer, odd-numbered the long one: a single reward for
    everybody can be right for only half of them."""
    rng = random.Random(seed)
    pairs = []
    for n in range(people):
        for _ in range(pairs_per_person):
            core = rng.choice(CORE)
            short, long = core, f"{core} {rng.choice(MORE)}"
            chosen, rejected = (short, long) if n % 2 == 0 else (long, short)
            pairs.append(PrefPair(f"person-{n:03d}", rng.choice(PROMPTS), chosen, rejected))
    return pairs


# --- the population with system messages (Janus) ------------------------------------------------

SYSTEMS = ("Answer briefly.", "Give me every detail.")


def system_message_pairs(people: int, pairs_per_person: int, seed: int) -> list[janus.Pair]:
    """`population` with system messages: even-numbered people ask for brevity and prefer the short
    answer, odd-numbered ones ask for detail and prefer the long one."""
    return [janus.Pair(SYSTEMS[int(p.user.split("-")[1]) % 2], p.prompt, p.chosen, p.rejected)
            for p in population(people, pairs_per_person, seed)]


def system_message_flip_accuracy(policy: Any, reference: Any, tokenizer: Any, pairs: Sequence[janus.Pair]) -> float:
    """Each toy pair under its own system message, then under the other toy system message with the
    label flipped: a policy deaf to system messages gets exactly one of each two right (50%)."""
    other = {SYSTEMS[0]: SYSTEMS[1], SYSTEMS[1]: SYSTEMS[0]}
    flipped = [replace(p, system=other[p.system], chosen=p.rejected, rejected=p.chosen) for p in pairs]
    return janus.implicit_reward_accuracy(policy, reference, tokenizer, list(pairs) + flipped)
