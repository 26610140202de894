"""PAL's claims on the toy population (training/methods/pal.py: even-numbered people prefer short
answers, odd-numbered long ones), with the tiny CPU config on the 2-layer test Llama's features:

1. personalisation: held-out pairs of people seen in training, scored with each person's own
   weights, with everyone's average weights (the same model, one reward for all), and by a model
   with a single ideal point (K = 1);
2. sample efficiency: people never seen in training, fitted from their first n pairs (only their
   K mixture weights are learned), then scored on the rest.

    .venv/bin/python bench/pal.py [seeds]        (default 3)
"""
from __future__ import annotations

import json
import statistics
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import transformers  # noqa: E402

from tests.support.tiny_models import build_tiny_llama  # noqa: E402
from training.methods import pal  # noqa: E402
from training.methods.contract import RunInputs  # noqa: E402

PEOPLE, PAIRS_EACH = 40, 12
ADAPTATION = (1, 2, 4, 8)


class QuietHooks:
    def progress(self, fraction: float, *, stage: str) -> None: ...
    def metrics(self, step, values) -> None: ...  # type: ignore[no-untyped-def]
    def log(self, message: str) -> None: ...
    def check_cancelled(self) -> None: ...


def trained(base: Path, folder: Path, pairs: list[pal.PrefPair], config: pal.Config) -> tuple[dict, pal.PalScorer]:
    for sub in ("work", "out"):
        (folder / sub).mkdir(parents=True)
    data = folder / "preferences.jsonl"
    data.write_text("".join(json.dumps(asdict(p)) + "\n" for p in pairs))
    inputs = RunInputs(run_id=0, base_model=str(base), dataset={"preferences.jsonl": data, "users.jsonl": data},
                       work_dir=folder / "work", output_dir=folder / "out", device="cpu", bf16=False)
    result = pal.train(inputs, config, QuietHooks())
    return dict(result.metrics), pal.PalScorer.load(folder / "out")


def adaptation_curve(scorer: pal.PalScorer, config: pal.Config, seed: int) -> dict[int, float]:
    """New people (not in the training population) fitted from n pairs, scored on 8 more."""
    newcomers = pal.toy_population(10, max(ADAPTATION) + 8, seed=seed + 1000)
    by_person: dict[str, list[pal.PrefPair]] = {}
    for pair in newcomers:
        by_person.setdefault(pair.user, []).append(pair)
    curve = {}
    for n in ADAPTATION:
        right = total = 0
        for own in by_person.values():
            weights = scorer.fit_user([(p.prompt, p.chosen, p.rejected) for p in own[:n]],
                                      steps=config.adaptation_steps)
            rest = own[max(ADAPTATION):]
            right += round(scorer.pair_accuracy(weights, rest) * len(rest))
            total += len(rest)
        curve[n] = right / total
    return curve


def main() -> int:
    seeds = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    transformers.logging.set_verbosity_error()
    rows: dict[str, list[float]] = {}
    curves: list[dict[int, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        base = build_tiny_llama(Path(tmp) / "tiny")
        for seed in range(seeds):
            pairs = pal.toy_population(PEOPLE, PAIRS_EACH, seed=seed)
            config = pal.Config.tiny()
            config.seed = seed
            metrics, scorer = trained(base, Path(tmp) / f"k2-{seed}", pairs, config)
            single, _ = trained(base, Path(tmp) / f"k1-{seed}", pairs, pal.Config(**{**asdict(config), "prototypes": 1}))
            rows.setdefault("own weights (K = 2)", []).append(metrics["eval_accuracy"])
            rows.setdefault("everyone's average weights (K = 2)", []).append(metrics["eval_accuracy_population_weights"])
            rows.setdefault("one ideal point for all (K = 1)", []).append(single["eval_accuracy"])
            curves.append(adaptation_curve(scorer, config, seed))

    print(f"PAL toy population: {PEOPLE} people x {PAIRS_EACH} pairs, half prefer short answers, half long; "
          f"tiny config, 2-layer Llama features on CPU, {seeds} seeds\n")
    print(f"{'held-out pairs of people seen in training':<44}{'accuracy':>10}{'range':>14}")
    for label, values in rows.items():
        print(f"{label:<44}{statistics.mean(values):>10.3f}{f'{min(values):.2f}-{max(values):.2f}':>14}")
    print(f"\n{'new people, fitted from n of their pairs':<44}{'accuracy':>10}")
    for n in ADAPTATION:
        print(f"{f'n = {n}':<44}{statistics.mean(c[n] for c in curves):>10.3f}")
    ok = statistics.mean(rows["own weights (K = 2)"]) >= 0.9 and statistics.mean(c[4] for c in curves) >= 0.85
    print("\ntarget: >= 0.90 with own weights, >= 0.85 for new people from 4 pairs:", "met" if ok else "MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
