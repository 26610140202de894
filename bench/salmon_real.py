"""SALMON on real people's preferences: does the reward follow the principle of the group it scores for?

    .venv/bin/python bench/salmon_real.py --data ../shared/data/hh_hidden_context/dev.jsonl.gz \
        --users ../shared/data/hh_hidden_context/dev_users.csv [--model smollm2|HF_FOLDER] \
        [--rows 800] [--eval-rows 150] [--steps 100] [--seeds 3] [--json OUT]

The constitution holds the two objectives as principles ("Prefer the more helpful response." /
"Prefer the more harmless response."). Instead of SALMON's own labels (a policy judging its own
responses), every training pair is a human's judgement shown with that person's group's principle,
so the reward must learn to read the principle to fit both groups at once (the groups disagree on
about 40% of pairs). Per seed (people's pairs split as in bench/population_real.py):

- the reward trained with principles scores each group's held-out pairs with the group's own
  principle, with the other group's, and with none;
- the same model trained on the same pairs without principles (the plain reward a researcher
  would otherwise train) scores them as they are.

It prints accuracy per group, mean over seeds +- a 95% interval, and whether the goal is met: with
its own principle at least 5 points above each way of going without it.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "platform"))

from bench import real_text
from training.methods import salmon
from training.methods.common.population import PrefPair
from training.methods.common.splits import pair_wins

CONDITIONS = {
    "own": "trained with principles, own principle",
    "other": "trained with principles, other group's",
    "none": "trained with principles, no principle",
    "trained_without": "trained without principles",
}


def bench_config(*, steps: int, batch: int, seed: int, learning_rate: float, max_length: int) -> salmon.Config:
    """SALMON's defaults with the bench's size; one principle per example (the group's own)."""
    return replace(salmon.Config(), max_steps=steps, per_device_batch_size=batch, seed=seed,
                   learning_rate=learning_rate, max_length=max_length, principles_per_example=1, save_steps=max(steps, 1), logging_steps=max(steps // 5, 1))


def examples(pairs: Sequence[PrefPair], groups: Mapping[str, str]) -> list[salmon.Example]:
    """Each human pair as a SALMON example whose one shown principle is the person's group's."""
    return [salmon.example_from_judgement(p.prompt, p.chosen, p.rejected,
                                          salmon.Principle(groups[p.user], real_text.PRINCIPLES[groups[p.user]]))
            for p in pairs]


def evaluate(scorer: Any, held_out: Sequence[PrefPair], groups: Mapping[str, str],
             conditions: Sequence[str]) -> dict[str, dict[str, float]]:
    """{condition: {group or "all": accuracy}}; a condition picks the principles the scorer reads:
    `own` the pair's group's, `other` the other group's, `none` and `trained_without` none."""
    names = sorted(set(groups.values()))

    def shown(condition: str, user: str) -> list[str]:
        group = groups[user]
        if condition == "own":
            return [real_text.PRINCIPLES[group]]
        if condition == "other":
            return [real_text.PRINCIPLES[real_text.other(group, names)]]
        return []

    out: dict[str, dict[str, float]] = {}
    for condition in conditions:
        items = [(shown(condition, p.user), p.prompt, r) for p in held_out for r in (p.chosen, p.rejected)]
        rewards = scorer.score_batch(items)
        right = pair_wins(rewards[0::2], rewards[1::2])
        out[condition] = {g: _mean([ok for ok, p in zip(right, held_out) if groups[p.user] == g]) for g in names}
        out[condition]["all"] = _mean(right)
    return out


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def run_seed(pairs: Sequence[PrefPair], groups: Mapping[str, str], *, base: Path, seed: int, rows: int,
             eval_rows: int, config: salmon.Config, work: Path, batch_size: int = 16,
             validate: bool = False, device: str = "cpu", bf16: bool = False) -> dict[str, dict[str, float]]:
    parts = real_text.split(pairs, groups, seed=seed, rows=rows, eval_rows=eval_rows, validate=validate)
    train_set = examples(parts.train, groups)
    out: dict[str, dict[str, float]] = {}
    for use_principles, conditions in ((True, ("own", "other", "none")), (False, ("trained_without",))):
        model, tokenizer = salmon.train_reward_model(
            train_set, base_model=str(base), config=replace(config, use_principles=use_principles),
            checkpoint_dir=work / f"{seed}-{use_principles}", device=device, bf16=bf16,
            callbacks=[_progress(f"seed {seed}, principles {use_principles}")])
        scorer = _Batched(salmon.RewardScorer(model, tokenizer, device=device), batch_size)
        out |= evaluate(scorer, parts.held_out, groups, conditions)
    return out


def _progress(what: str) -> Any:
    """A trainer callback that prints the step, the loss and the time so far to stderr, for sizing runs."""
    from transformers import TrainerCallback

    started = time.perf_counter()

    class Progress(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, float] | None = None,
                   **kwargs: Any) -> None:
            loss = (logs or {}).get("loss")
            print(f"{what}: step {state.global_step}/{state.max_steps}"
                  + (f", loss {loss:.3f}" if loss is not None else "")
                  + f", {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)

    return Progress()


class _Batched:
    """A RewardScorer that scores in chunks, so held-out sets of any size fit in memory."""

    def __init__(self, scorer: salmon.RewardScorer, size: int) -> None:
        self.scorer, self.size = scorer, size

    def score_batch(self, items: Sequence[tuple[Sequence[str], str, str]]) -> list[float]:
        return [r for start in range(0, len(items), self.size)
                for r in self.scorer.score_batch(items[start : start + self.size])]


def main(argv: Sequence[str] | None = None) -> int:
    parser = real_text.arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=100, help="optimizer steps per reward model")
    parser.add_argument("--learning-rate", type=float, default=3e-5)
    args = parser.parse_args(argv)
    real_text.quiet_torch()
    started = time.perf_counter()
    pairs, groups, skipped = real_text.load(args.data, args.users, prompt_chars=args.prompt_chars,
                                              response_chars=args.response_chars)
    base = real_text.model_folder(args.model)
    device, bf16 = real_text.device(args.device)
    runs = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            config = bench_config(steps=args.steps, batch=args.batch, seed=seed, learning_rate=args.learning_rate,
                                  max_length=args.max_length)
            runs.append(run_seed(pairs, groups, base=base, seed=seed, rows=args.rows, eval_rows=args.eval_rows,
                                 config=config, work=Path(tmp), validate=args.validate, device=device, bf16=bf16))
            print(f"seed {seed}: {json.dumps(runs[-1])}", file=sys.stderr, flush=True)
    headline = (f"SALMON on real pairs: {len(pairs)} pairs ({skipped or 'none left out'}), base {base.name}; per seed "
          f"{args.rows} training pairs, {args.eval_rows} held-out pairs per group; {args.steps} steps, batch "
          f"{args.batch}, lr {args.learning_rate}; {args.seeds} seeds on {device}, "
          f"{time.perf_counter() - started:.0f} s\n"
          + ("validation (each person's last quarter of their training pairs)" if args.validate else "held-out")
          + " accuracy, mean over seeds +- 95% interval\n")
    real_text.finish(runs, CONDITIONS, headline=headline, json_path=args.json, settings=vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
