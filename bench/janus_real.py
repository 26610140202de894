"""Janus on real people's preferences: does the policy follow the system message of the group it answers?

    .venv/bin/python bench/janus_real.py --data ../shared/data/hh_hidden_context/dev.jsonl.gz \
        --users ../shared/data/hh_hidden_context/dev_users.csv [--model smollm2|HF_FOLDER] \
        [--rows 800] [--eval-rows 150] [--sft-steps 50] [--dpo-steps 100] [--seeds 3] [--json OUT]

Each annotator group's objective is its system message ("Give the most helpful answer you can." /
"Give the most harmless answer you can."), and every person's pairs are trained under their group's
message: SFT on the chosen responses, then DPO (training/methods/janus.py's `sft` and `dpo`; the
prompts are all different, so there are no other system messages' favourites to add as rejected).
Per seed (people's pairs split as in bench/population_real.py), on each group's held-out pairs, the
implicit DPO reward (log pi/pi_base of a response) of:

- the policy trained with system messages, given the group's own message, the other group's, none;
- the same model trained on the same pairs without system messages, given none.

It prints accuracy per group, mean over seeds +- a 95% interval, and whether the goal is met: with
its own system message at least 5 points above each way of going without it.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "platform"))

from bench import real_text
from training.methods import janus
from training.methods.common.population import PrefPair

CONDITIONS = {
    "own": "trained with system messages, own",
    "other": "trained with system messages, other's",
    "none": "trained with system messages, none",
    "trained_without": "trained without system messages",
}

# accuracy(pairs, use_system) -> share of pairs whose chosen response the model prefers
Accuracy = Callable[[list[janus.Pair], bool], float]


def janus_pairs(pairs: Sequence[PrefPair], groups: Mapping[str, str]) -> list[janus.Pair]:
    return [janus.Pair(real_text.SYSTEM_MESSAGES[groups[p.user]], p.prompt, p.chosen, p.rejected) for p in pairs]


def evaluate(accuracy: Accuracy, held_out: Sequence[PrefPair], groups: Mapping[str, str],
             conditions: Sequence[str]) -> dict[str, dict[str, float]]:
    """{condition: {group or "all": accuracy}}; a condition picks the system message the policy
    reads: `own` the pair's group's, `other` the other group's, `none` and `trained_without` none."""
    names = sorted(set(groups.values()))
    out: dict[str, dict[str, float]] = {}
    for condition in conditions:
        out[condition] = {}
        for group in names:
            shown = group if condition != "other" else real_text.other(group, names)
            own = [janus.Pair(real_text.SYSTEM_MESSAGES[shown], p.prompt, p.chosen, p.rejected)
                   for p in held_out if groups[p.user] == group]
            out[condition][group] = accuracy(own, condition in ("own", "other"))
        counts = {g: sum(groups[p.user] == g for p in held_out) for g in names}
        out[condition]["all"] = sum(out[condition][g] * counts[g] for g in names) / sum(counts.values())
    return out


def run_seed(pairs: Sequence[PrefPair], groups: Mapping[str, str], *, base: Path, seed: int, rows: int,
             eval_rows: int, config: janus.Config, work: Path, validate: bool = False, device: str = "cpu",
             bf16: bool = False) -> dict[str, dict[str, float]]:
    from transformers import AutoModelForCausalLM

    parts = real_text.split(pairs, groups, seed=seed, rows=rows, eval_rows=eval_rows, validate=validate)
    train_set = janus_pairs(parts.train, groups)
    reference = AutoModelForCausalLM.from_pretrained(base).to(device).eval()
    out: dict[str, dict[str, float]] = {}
    for use_system, conditions in ((True, ("own", "other", "none")), (False, ("trained_without",))):
        run_config = replace(config, use_system_message=use_system)
        folder = work / f"{seed}-{use_system}"
        start = str(base)
        if run_config.sft_steps:
            model, tokenizer = janus.sft(train_set, base_model=start, config=run_config, checkpoint_dir=folder / "sft",
                                         device=device, bf16=bf16)
            model.save_pretrained(folder / "sft-model")
            tokenizer.save_pretrained(folder / "sft-model")
            start = str(folder / "sft-model")
        policy, tokenizer = janus.dpo(train_set, policy=start, base_model=str(base), config=run_config,
                                      checkpoint_dir=folder / "dpo", device=device, bf16=bf16)

        out |= evaluate(partial(_accuracy, policy, reference, tokenizer), parts.held_out, groups, conditions)
    return out


def _accuracy(policy: Any, reference: Any, tokenizer: Any, scored: list[janus.Pair], with_system: bool) -> float:
    return janus.implicit_reward_accuracy(policy, reference, tokenizer, scored, use_system=with_system)


def main(argv: Sequence[str] | None = None) -> int:
    parser = real_text.arguments(__doc__.split("\n\n")[0])
    parser.add_argument("--sft-steps", type=int, default=50)
    parser.add_argument("--dpo-steps", type=int, default=100)
    parser.add_argument("--sft-learning-rate", type=float, default=2e-5)
    parser.add_argument("--dpo-learning-rate", type=float, default=1e-5)
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
            config = replace(janus.Config(), sft_steps=args.sft_steps, dpo_steps=args.dpo_steps,
                             per_device_batch_size=args.batch, sft_learning_rate=args.sft_learning_rate,
                             dpo_learning_rate=args.dpo_learning_rate, max_length=args.max_length,
                             other_system_rejections=0, seed=seed, save_steps=max(args.sft_steps, args.dpo_steps, 1))
            runs.append(run_seed(pairs, groups, base=base, seed=seed, rows=args.rows, eval_rows=args.eval_rows,
                                 config=config, work=Path(tmp), validate=args.validate, device=device, bf16=bf16))
            print(f"seed {seed}: {json.dumps(runs[-1])}", file=sys.stderr, flush=True)
    headline = (f"Janus on real pairs: {len(pairs)} pairs ({skipped or 'none left out'}), base {base.name}; per seed "
          f"{args.rows} training pairs, {args.eval_rows} held-out pairs per group; SFT {args.sft_steps} steps "
          f"(lr {args.sft_learning_rate}), DPO {args.dpo_steps} steps (lr {args.dpo_learning_rate}), batch {args.batch}; "
          f"{args.seeds} seeds on {device}, {time.perf_counter() - started:.0f} s\n"
          + ("validation (each person's last quarter of their training pairs)" if args.validate else "held-out")
          + " implicit-reward accuracy, mean over seeds +- 95% interval\n")
    real_text.finish(runs, CONDITIONS, headline=headline, json_path=args.json, settings=vars(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
