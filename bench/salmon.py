"""SALMON's claim on the toy task: the reward model follows the principle it is shown.

Run from the repo root: `.venv/bin/python bench/salmon.py [seeds]` (default 3 seeds). For each
seed it labels toy pairs (training/methods/toys.py: pairs differ in length or in warmth, and the
judge knows which principle each difference matters to), trains the tiny CPU config with and
without principles in the input, and scores held-out prompts on *flip pairs*: every example once
with its deciding principle as written and once negated, where the right answer swaps.
Exits non-zero if, on average, with principles is under 85% or without is not within 5 points of 50%.
"""
from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datasets
import transformers

from tests.support.tiny_models import build_tiny_llama
from training.methods import salmon, toys


def one_seed(base: Path, seed: int, work: Path) -> dict[bool, tuple[float, float, float]]:
    config = salmon.Config.tiny()
    config.seed = seed
    train_set = salmon.label_pairs(toys.principle_pairs(toys.TOPICS[:18], 30, seed=seed), toys.PRINCIPLES,
                                   toys.principle_judge, config=config)
    held_out = salmon.label_pairs(toys.principle_pairs(toys.TOPICS[18:], 20, seed=seed + 100),
                                  toys.PRINCIPLES, toys.principle_judge, config=config)
    rows = {}
    for use_principles in (True, False):
        config.use_principles = use_principles
        start = time.monotonic()
        model, tokenizer = salmon.train_reward_model(train_set, base_model=str(base), config=config,
                                                     checkpoint_dir=work / f"{seed}-{use_principles}")
        seconds = time.monotonic() - start
        scorer = salmon.RewardScorer(model, tokenizer)
        rows[use_principles] = (salmon.flip_accuracy(scorer, held_out, use_principles=use_principles),
                                salmon.pair_accuracy(scorer, held_out, use_principles=use_principles), seconds)
    return rows


def main() -> int:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_llama(Path(tmp) / "tiny")
        results = [one_seed(base, seed, Path(tmp)) for seed in range(seeds)]
    config = salmon.Config.tiny()
    print(f"SALMON toy task, tiny config ({config.max_steps} steps, batch {config.per_device_batch_size}), "
          f"2-layer Llama on CPU, {seeds} seeds; held-out prompts only\n")
    print(f"{'reward model input':<34}{'flip-pair accuracy':>20}{'pair accuracy':>16}{'train s':>10}")
    means = {}
    for use_principles, label in ((True, "principles + prompt + response"), (False, "prompt + response (no principles)")):
        flips = [r[use_principles][0] for r in results]
        pairs = [r[use_principles][1] for r in results]
        secs = [r[use_principles][2] for r in results]
        means[use_principles] = statistics.mean(flips)
        spread = f"{min(flips):.2f}-{max(flips):.2f}"
        print(f"{label:<34}{statistics.mean(flips):>11.3f} ({spread}){statistics.mean(pairs):>16.3f}"
              f"{statistics.mean(secs):>10.1f}")
    ok = means[True] >= 0.85 and abs(means[False] - 0.5) <= 0.05
    print("\ntarget: >= 0.85 with principles, ~0.50 without:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
