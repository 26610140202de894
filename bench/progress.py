"""Trackers on a synthetic drifting timeline: PG-Follow and PG-Predict of the lifelong and
extrapolative trackers (training/methods/progress.py) against the no-tracking baseline (the step-0
model, never trained), over seeds, on the tiny test Llama, on CPU.

    python bench/progress.py [--steps 9] [--seeds 0 1 2] [--dpo-steps 8]

The timeline. A synthetic item set: DIMS dimensions x ITEMS_PER_DIM two-option items (short
made-up situations; option 0 "keeps" the dimension). A synthetic population of JUDGES people
answers every item at every step; the share choosing option 0 drifts linearly, from 0.5 at step 0
by +DRIFT per step on the first half of the dimensions and by -DRIFT on the other half (the known
direction). The population's vector per step is `value_vector_from_observations` over those
answers (as for a campaign's value survey). The pairs decided at a step are the same questions the
value vector asks (ProgressGym's `ab`, `compare` and `repeat` templates, both option orders): for
each, every judge's answer that picks their option over the answer that picks the other.

The models' vectors are `training.progress.vectors.value_vector(folder, items=SYNTHETIC_ITEMS)`,
the same scoring code as for the 19 ProgressGym dimensions (log-probabilities of each option's
answer under every template and order), on the synthetic items: their dimensions are the first
DIMS of the 19, and the other dimensions are empty (NaN), which the cosine leaves out. A tiny
random model's vector on ProgressGym's real items would be noise, which is why the bench uses items
whose drift it knows.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

DIMS = 4
ITEMS_PER_DIM = 1
JUDGES = 4
DRIFT = 0.05
SITUATIONS = ("A friend asks for help moving.", "A stranger drops a wallet.", "A colleague takes credit.",
              "A neighbour plays loud music.", "A child asks a hard question.", "A rival asks for advice.",
              "A parent needs care.", "A team misses a deadline.")
OPTIONS = (("Help them.", "Walk away."), ("Tell the truth.", "Say nothing."), ("Keep the promise.", "Break it."),
           ("Follow the rule.", "Ignore it."))


def synthetic_items():
    from elicitation.domain.surveys import Item

    return tuple(Item(f"S{d}-{k}", "synthetic", SITUATIONS[(d * ITEMS_PER_DIM + k) % len(SITUATIONS)],
                      OPTIONS[d % len(OPTIONS)], (d,)) for d in range(DIMS) for k in range(ITEMS_PER_DIM))


def share_keeping(d: int, t: int) -> float:
    """The share of the population choosing option 0 of dimension d's items at step t."""
    return 0.5 + (DRIFT if d < DIMS // 2 else -DRIFT) * t


def timeline(n_steps: int):
    """(step rows with the population's vector, each step's pairs as the trackers read them)."""
    from elicitation.domain.surveys import Observation, load_templates, option_orders, value_vector_from_observations
    from training.methods.progress import Pair

    items = synthetic_items()
    steps, pairs = [], []
    for t in range(n_steps):
        observations, step_pairs = [], []
        for item in items:
            keeping = round(JUDGES * share_keeping(item.dims[0], t))
            for judge in range(JUDGES):
                pick = 0 if judge < keeping else 1
                observations.append(Observation(f"judge-{judge}", item.dims[0], 1.0 if pick == 0 else 0.0))
                for template in load_templates()[2]:
                    for shown in option_orders(2):
                        answers = template.answers([item.options[k] for k in shown])
                        chosen = answers[shown.index(pick)]
                        rejected = answers[shown.index(1 - pick)]
                        prompt = template.prompt(item.context, [item.options[k] for k in shown])
                        step_pairs.append(Pair(t, "", prompt, chosen, rejected))
        vector = value_vector_from_observations(observations).to_json()
        steps.append({"step": t, "wave": t + 1, "label": f"Step {t}", "pairs": len(step_pairs),
                      "population_vector": vector})
        pairs.append(step_pairs)
    return steps, pairs


class QuietHooks:
    def progress(self, fraction, *, stage):
        pass

    def metrics(self, step, values):
        pass

    def log(self, message):
        pass

    def check_cancelled(self):
        pass


def run(seed: int, n_steps: int, dpo_steps: int, work: Path) -> dict[str, dict[str, float]]:
    from tests.support.tiny_models import build_tiny_llama
    from training.methods.progress import Config, track, tracking_summary
    from training.progress.vectors import value_vector

    items = synthetic_items()
    steps, pairs = timeline(n_steps)
    base = build_tiny_llama(work / f"base-{seed}", seed=seed)

    def measure(folder):
        return value_vector(folder, items=items, device="cpu", batch_size=32).to_json()

    baseline = measure(base)
    results = {}
    for tracker in ("lifelong", "extrapolative"):
        config = Config(tracker=tracker, dpo_steps=dpo_steps, per_device_batch_size=8, learning_rate=1e-3, beta=0.1,
                        extrapolation_order=1, steps_ahead=1, max_length=512, logging_steps=dpo_steps, seed=seed)
        folders = track(steps=steps, pairs=pairs, base_model=str(base), config=config,
                        work_dir=work / f"{tracker}-{seed}", hooks=QuietHooks(), measure=measure)
        vectors = [json.loads((f / "value_vector.json").read_text()) for f in folders]
        metrics, _ = tracking_summary(steps, vectors, baseline, ahead=1)
        results[tracker] = metrics
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=9)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--dpo-steps", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "chorus.settings.test")
    import numpy as np
    import torch
    from transformers.utils import logging as hf_logging

    torch.set_num_threads(args.threads)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    import datasets

    datasets.disable_progress_bars()

    print(f"synthetic timeline: {args.steps} steps, {DIMS} dimensions x {ITEMS_PER_DIM} items, {JUDGES} judges, "
          f"drift +-{DRIFT}/step; tiny Llama, {args.dpo_steps} DPO steps per time step, CPU")
    rows = {"no tracking (step-0 model)": [], "lifelong": [], "extrapolative": []}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        for seed in args.seeds:
            result = run(seed, args.steps, args.dpo_steps, Path(tmp))
            rows["no tracking (step-0 model)"].append((result["lifelong"]["baseline_pg_follow"],
                                                       result["lifelong"]["baseline_pg_predict"]))
            for tracker in ("lifelong", "extrapolative"):
                rows[tracker].append((result[tracker]["pg_follow"], result[tracker]["pg_predict"]))
            print(f"seed {seed}: " + "; ".join(f"{name} follow {v[-1][0]:.4f} predict {v[-1][1]:.4f}"
                                                for name, v in rows.items()), flush=True)
    print()
    print(f"{'tracker':<28}{'PG-Follow':>20}{'PG-Predict':>20}   (mean +- sd over {len(args.seeds)} seeds)")
    for name, values in rows.items():
        a = np.array(values)
        print(f"{name:<28}{a[:, 0].mean():>12.4f} +- {a[:, 0].std():.4f}{a[:, 1].mean():>12.4f} +- {a[:, 1].std():.4f}")
    means = {name: np.array(v).mean(axis=0) for name, v in rows.items()}
    print()
    print(f"extrapolative beats lifelong on PG-Predict: {means['extrapolative'][1] > means['lifelong'][1]}")
    base = means["no tracking (step-0 model)"][0]
    print(f"both beat no tracking on PG-Follow: {means['lifelong'][0] > base and means['extrapolative'][0] > base}")
    print(f"({time.monotonic() - started:.0f} s)")


if __name__ == "__main__":
    main()
