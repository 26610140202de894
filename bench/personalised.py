"""The personalised reward models side by side on the toy population (training/methods/toys.py:
even-numbered people prefer short answers, odd-numbered long ones), tiny CPU configs on the 2-layer
test Llama's features:

1. personalisation: held-out pairs of people seen in training, scored for each person (PAL: their
   mixture weights; VPL: their latent), for everyone's average (one reward for all, same model),
   and by a model that cannot personalise (PAL with one ideal point, K = 1; VPL with its latent
   squeezed to the prior, beta = 100);
2. new people, never seen in training, from their first n pairs (PAL: their posterior over its
   prototypes; VPL's encoder reads the pairs, no training), scored on 8 more; and the time to place
   one person.

    .venv/bin/python bench/personalised.py [--seeds 3] [--model FOLDER]

--model reads features with a real model folder (e.g. the bundled SmolLM2, ~/.cache/chorus/models/
smollm2-135m-instruct after `manage.py prepare_models`) instead of the random test Llama, and trains
with each method's default config (texts cut at 64 tokens) instead of its tiny one.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import transformers

from tests.support.population_runs import run_method
from tests.support.tiny_models import build_tiny_llama
from training.methods import pal, toys, vpl
from training.methods.common.population import by_user

PEOPLE, PAIRS_EACH = 40, 12
ADAPTATION = (1, 2, 4, 8)
ROWS = ("own", "average", "cannot personalise")


def placing(method, scorer):  # type: ignore[no-untyped-def]
    """How each method places someone new from (prompt, chosen, rejected) triples."""
    if method is pal:
        return scorer.fit_user
    return scorer.infer


def adaptation(method, scorer, config, seed: int) -> tuple[dict[int, float], float]:  # type: ignore[no-untyped-def]
    """Accuracy on 8 later pairs of 10 new people placed from n pairs, and seconds per placing."""
    place = placing(method, scorer)
    newcomers = by_user(toys.population(10, max(ADAPTATION) + 8, seed=seed + 1000)).values()
    scorer.cache.pairs([(p.prompt, p.chosen, p.rejected) for own in newcomers for p in own])  # base-model features first: time the placing alone
    curve, seconds, placed = {}, 0.0, 0
    for n in ADAPTATION:
        right = total = 0
        for own in newcomers:
            start = time.perf_counter()
            found = place([(p.prompt, p.chosen, p.rejected) for p in own[:n]])
            seconds, placed = seconds + time.perf_counter() - start, placed + 1
            rest = own[max(ADAPTATION):]
            right += round(scorer.pair_accuracy(found, rest) * len(rest))
            total += len(rest)
        curve[n] = right / total
    return curve, seconds / placed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--model", help="a model folder to read features with instead of the tiny test Llama")
    args = parser.parse_args()
    seeds = args.seeds
    transformers.logging.set_verbosity_error()
    methods = {
        "PAL": (pal, pal.PalScorer, "eval_accuracy_population_weights", {"prototypes": 1}),
        "VPL": (vpl, vpl.VplScorer, "eval_accuracy_average_latent", {"beta": 100.0}),
    }
    table: dict[tuple[str, str], list[float]] = {}
    curves: dict[str, list[dict[int, float]]] = {name: [] for name in methods}
    place_seconds: dict[str, list[float]] = {name: [] for name in methods}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.model) if args.model else build_tiny_llama(Path(tmp) / "tiny")
        for seed in range(seeds):
            pairs = toys.population(PEOPLE, PAIRS_EACH, seed=seed)
            for name, (method, scorer_class, average_key, crippled) in methods.items():
                # The tiny configs suit the test Llama's features; a real model's features get the
                # method's own defaults (its tiny learning rate sends VPL astray on SmolLM2's).
                start = method.Config(max_length=64) if args.model else method.Config.tiny()
                config = replace(start, seed=seed)
                folder = Path(tmp) / f"{name}-{seed}"
                result, _ = run_method(method, folder, base, pairs, config)
                plain, _ = run_method(method, Path(tmp) / f"{name}-plain-{seed}", base, pairs,
                                      replace(config, **crippled))
                for row, value in zip(ROWS, (result.metrics["eval_accuracy"], result.metrics[average_key],
                                             plain.metrics["eval_accuracy"])):
                    table.setdefault((name, row), []).append(value)
                curve, seconds = adaptation(method, scorer_class.load(folder / "out"), config, seed)
                curves[name].append(curve)
                place_seconds[name].append(seconds)

    setup = f"default configs, features from {base.name}" if args.model else "tiny configs, the test Llama's features"
    print(f"Toy population: {PEOPLE} people x {PAIRS_EACH} pairs, half prefer short answers, half long; "
          f"{setup} on CPU, {seeds} seeds (mean, and range over seeds)\n")
    print(f"{'held-out pairs of people seen in training':<46}{'PAL':>20}{'VPL':>20}")
    labels = {"own": "each person's own weights / latent", "average": "everyone's average (one reward for all)",
              "cannot personalise": "PAL K = 1 / VPL beta = 100"}
    for row in ROWS:
        cells = [f"{statistics.mean(v):.3f} ({min(v):.2f}-{max(v):.2f})" for v in (table[("PAL", row)],
                                                                                     table[("VPL", row)])]
        print(f"{labels[row]:<46}{cells[0]:>20}{cells[1]:>20}")
    print(f"\n{'new people, placed from n of their pairs':<46}{'PAL':>20}{'VPL':>20}")
    for n in ADAPTATION:
        cells = [f"{statistics.mean(c[n] for c in curves[name]):.3f}" for name in methods]
        print(f"{f'n = {n}':<46}{cells[0]:>20}{cells[1]:>20}")
    pal_ms, vpl_ms = (statistics.mean(place_seconds[name]) * 1000 for name in methods)
    print(f"{'ms to place one person (features known)':<46}{pal_ms:>20.1f}{vpl_ms:>20.1f}")
    ok = all(statistics.mean(table[(name, "own")]) >= 0.9 and statistics.mean(c[4] for c in curves[name]) >= 0.85
             for name in methods)
    print("\ntarget: >= 0.90 with each person's own, >= 0.85 for new people from 4 pairs, both methods:",
          "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
