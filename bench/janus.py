"""Janus on the toy population (training/methods/toys.py: people who ask for brevity prefer short
answers, people who ask for detail long ones), tiny CPU config on the 2-layer test Llama, three
ways: as designed; with people's own pairs only (no other system messages' favourites as rejected);
and without system messages in training. On held-out prompts it prints the implicit-reward
accuracy with the system message, with it removed, and the flip accuracy (each pair also under the
other system message, label flipped: a policy deaf to system messages gets exactly 50%).

    .venv/bin/python bench/janus.py [--seeds 3] [--model FOLDER]

--model trains a real model folder (e.g. the bundled SmolLM2, ~/.cache/chorus/models/
smollm2-135m-instruct after `manage.py prepare_models`) instead of the random test Llama, with
learning rates a pretrained model survives (2e-5 for SFT, 1e-5 for DPO); on 2 CPU cores that takes
about 9 minutes a run, so 3 variants x 1 seed is about half an hour.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import datasets
import transformers

from tests.support.population_runs import run_method
from tests.support.tiny_models import build_tiny_llama
from training.methods import janus, toys
from training.methods.common.splits import split_by_prompt

VARIANTS = {
    "Janus (own pairs + other systems' favourites)": {},
    "own pairs only": {"other_system_rejections": 0},
    "no system message in training": {"use_system_message": False},
}
COLUMNS = ("with system", "without system", "flip", "seconds")


def main() -> int:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--model", help="a model folder to train instead of the tiny test Llama")
    args = parser.parse_args()
    seeds = args.seeds
    rates = {"sft_learning_rate": 2e-5, "dpo_learning_rate": 1e-5} if args.model else {}
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()
    table: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(args.model) if args.model else build_tiny_llama(Path(tmp) / "tiny")
        reference = AutoModelForCausalLM.from_pretrained(base).eval()
        for seed in range(seeds):
            pairs = toys.system_message_pairs(20, 12, seed=seed)
            for n, (label, change) in enumerate(VARIANTS.items()):
                config = janus.Config(**{**asdict(janus.Config.tiny()), "seed": seed, **rates, **change})
                folder = Path(tmp) / f"{seed}-{n}"
                start = time.perf_counter()
                result, _ = run_method(janus, folder, base, pairs, config)
                seconds = time.perf_counter() - start
                _, held_out = split_by_prompt(pairs, config.eval_fraction, config.seed)
                policy = AutoModelForCausalLM.from_pretrained(folder / "out").eval()
                flip = toys.system_message_flip_accuracy(policy, reference,
                                                         AutoTokenizer.from_pretrained(folder / "out"), held_out)
                for column, value in zip(COLUMNS, (result.metrics["eval_accuracy"],
                                                   result.metrics["eval_accuracy_without_system"], flip, seconds)):
                    table.setdefault((label, column), []).append(value)

    model = f"{base.name} ({rates})" if args.model else "the 2-layer test Llama"
    print(f"Janus on the toy population: 20 people x 12 pairs, two system messages; tiny config on {model}, "
          f"CPU, {seeds} seeds; implicit-reward accuracy on held-out prompts (mean over seeds)\n")
    print(f"{'':<48}" + "".join(f"{c:>16}" for c in COLUMNS))
    for label in VARIANTS:
        cells = [f"{statistics.mean(table[(label, c)]):.3f}" for c in COLUMNS[:3]]
        cells.append(f"{statistics.mean(table[(label, 'seconds')]):.1f}")
        print(f"{label:<48}" + "".join(f"{c:>16}" for c in cells))
    janus_flip = statistics.mean(table[(next(iter(VARIANTS)), "flip")])
    deaf_flip = statistics.mean(table[("no system message in training", "flip")])
    ok = janus_flip >= 0.9 and abs(deaf_flip - 0.5) <= 0.05
    print("\ntarget: flip accuracy >= 0.90 for Janus, 0.50 +- 0.05 without system messages:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
