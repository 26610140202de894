"""What the SALMON and Janus real-text benches share: the people's pairs split by person, each
annotator group's objective put into words, and the table of accuracy per group and condition.

The users file (user, objective) is what these two benches are about: SALMON is shown the
objective as a principle and Janus as a system message, so both read it in training and scoring,
unlike PAL and VPL in bench/population_real.py, which must find the groups themselves.
"""
from __future__ import annotations

import argparse
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.population_real import interval, read_groups, read_pairs
from training.methods.common.population import PrefPair, split_population

# Each objective as a SALMON principle (the wording) and as a Janus system message.
PRINCIPLES = {"helpful": "Prefer the more helpful response.", "harmless": "Prefer the more harmless response."}
SYSTEM_MESSAGES = {"helpful": "Give the most helpful answer you can.",
                   "harmless": "Give the most harmless answer you can."}

# HH-RLHF prompts are whole conversations; what a response answers is their end.
PROMPT_CHARS = 600
RESPONSE_CHARS = 400


@dataclass(frozen=True)
class GroupSplit:
    train: list[PrefPair]
    held_out: list[PrefPair]
    groups: dict[str, str]  # user -> objective


def arguments(description: str) -> argparse.ArgumentParser:
    """The flags both benches take; each adds its own training settings."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", required=True, type=Path, help="JSONL (or .jsonl.gz) of {user, prompt, chosen, rejected}")
    parser.add_argument("--users", required=True, type=Path, help="CSV of user, objective (helpful or harmless)")
    parser.add_argument("--model", default="smollm2",
                        help="smollm2 (the bundled model, default), minilm (reward models only) or a HF folder")
    parser.add_argument("--rows", type=int, default=800, help="training pairs per seed")
    parser.add_argument("--eval-rows", type=int, default=150, help="held-out pairs per group and seed")
    parser.add_argument("--batch", type=int, default=8, help="pairs per step")
    parser.add_argument("--max-length", type=int, default=320, help="most tokens per text")
    parser.add_argument("--prompt-chars", type=int, default=PROMPT_CHARS, help="each prompt's last characters kept")
    parser.add_argument("--response-chars", type=int, default=RESPONSE_CHARS,
                        help="each response's first characters kept")
    parser.add_argument("--validate", action="store_true",
                        help="score on each person's last quarter of their training pairs instead of the held-out "
                             "pairs (choosing settings without looking at the held-out pairs)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds run from this one (to add seeds later)")
    parser.add_argument("--json", type=Path, help="write the figures here as one JSON object")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto",
                        help="where to train and score (auto: cuda when there is a GPU, in bf16)")
    return parser


def device(flag: str) -> tuple[str, bool]:
    """(device, bf16) for `--device`: on a GPU the trainers run in bf16, as a gpu worker runs them."""
    import torch

    chosen = ("cuda" if torch.cuda.is_available() else "cpu") if flag == "auto" else flag
    return chosen, chosen == "cuda"


def quiet_torch() -> None:
    """Two CPU threads at most, and no progress bars or warnings from the libraries."""
    import datasets
    import torch
    import transformers

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    transformers.logging.set_verbosity_error()
    datasets.disable_progress_bars()


def load(data: Path, users: Path, *, prompt_chars: int = PROMPT_CHARS, response_chars: int = RESPONSE_CHARS,
         ) -> tuple[list[PrefPair], dict[str, str], dict[str, int]]:
    """(pairs of people the users file names, trimmed, user -> objective, rows left out by reason)."""
    loaded = read_pairs(data)
    groups = read_groups(users)
    unknown = [p for p in loaded.pairs if p.user not in groups]
    if unknown:
        loaded.skipped["a user the users file does not name"] += len(unknown)
    pairs = [trimmed(p, prompt_chars, response_chars) for p in loaded.pairs if p.user in groups]
    return pairs, groups, dict(loaded.skipped)


def trimmed(pair: PrefPair, prompt_chars: int = PROMPT_CHARS, response_chars: int = RESPONSE_CHARS) -> PrefPair:
    """The prompt's last `prompt_chars` characters and each response's first `response_chars`: long
    pairs would otherwise be dropped by the trainers' max_length, and CPU time grows with length."""
    return PrefPair(pair.user, pair.prompt[-prompt_chars:], pair.chosen[:response_chars],
                    pair.rejected[:response_chars])


def split(pairs: Sequence[PrefPair], groups: Mapping[str, str], *, seed: int, rows: int, eval_rows: int,
          eval_fraction: float = 0.25, validate: bool = False) -> GroupSplit:
    """Each person's last `eval_fraction` of pairs (after a shuffle by the seed) held out, the rest
    trainable (bench/population_real.py's split, with nobody aside as new); then `rows` training
    pairs drawn at random and, per group, `eval_rows` held-out pairs, so that every group is scored
    on as many pairs. Truncated (a pair whose responses agree once trimmed) pairs are left out.
    `validate`: the held-out pairs are set aside unseen and the training pairs split again the same
    way (each person's last `eval_fraction` of them scored), for choosing settings."""
    shuffled = [p for p in pairs if p.chosen != p.rejected]
    rng = random.Random(seed)
    rng.shuffle(shuffled)
    parts = split_population(shuffled, seed=seed, new_user_fraction=0.0, eval_fraction=eval_fraction,
                             adaptation_pairs=0)
    if validate:
        parts = split_population(parts.train, seed=seed, new_user_fraction=0.0, eval_fraction=eval_fraction,
                                 adaptation_pairs=0)
    train = rng.sample(parts.train, min(rows, len(parts.train)))
    held_out = []
    for group in sorted(set(groups.values())):
        own = [p for p in parts.held_out if groups[p.user] == group]
        held_out += rng.sample(own, min(eval_rows, len(own)))
    return GroupSplit(train, held_out, dict(groups))


def other(group: str, names: Sequence[str]) -> str:
    """The other objective (the data has two)."""
    rest = [g for g in names if g != group]
    return rest[0]


def summarise(per_seed: Sequence[Mapping[str, Mapping[str, float]]]) -> dict[str, dict[str, dict[str, Any]]]:
    """{condition: {group: {mean, ci95, per_seed}}} from each seed's {condition: {group: accuracy}}."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for condition in per_seed[0]:
        out[condition] = {}
        for group in per_seed[0][condition]:
            values = [run[condition][group] for run in per_seed]
            mean, ci = interval(values)
            out[condition][group] = {"mean": mean, "ci95": ci, "per_seed": values}
    return out


def goals(summary: Mapping[str, Mapping[str, Mapping[str, Any]]], *, own: str,
          without: Sequence[str]) -> list[tuple[str, float, bool]]:
    """Per group and baseline: own condition >= baseline + 0.05, as (what, margin, met)."""
    rows = []
    for baseline in without:
        for group in summary[own]:
            if group == "all":
                continue
            by = summary[own][group]["mean"] - summary[baseline][group]["mean"] - 0.05
            rows.append((f"{group}: {own} >= {baseline} + 0.05", by, by >= 0))
    return rows


def table(summary: Mapping[str, Mapping[str, Mapping[str, Any]]], labels: Mapping[str, str]) -> str:
    groups = list(next(iter(summary.values())))
    lines = [f"{'':<44}" + "".join(f"{g:>18}" for g in groups)]
    for condition, cells in summary.items():
        lines.append(f"{labels[condition]:<44}" + "".join(
            f"{cells[g]['mean']:>9.3f} +- {cells[g]['ci95']:.3f}" for g in groups))
    return "\n".join(lines)


def model_folder(name: str) -> Path:
    """`smollm2` (the bundled model, converted on first use), `minilm` (the bundled all-MiniLM-L6-v2
    encoder, for a reward model only; see `minilm_reward_base`) or a Hugging Face model folder."""
    if name == "minilm":
        return minilm_reward_base(Path.home() / ".cache" / "chorus" / "models")
    if name == "smollm2":
        from chorus.inference.local import prepare_local_model

        return prepare_local_model(Path.home() / ".cache" / "chorus" / "models").path
    if not (Path(name) / "config.json").exists():
        raise SystemExit(f"--model: {name} is neither smollm2, minilm nor a Hugging Face model folder")
    return Path(name)


def finish(runs: Sequence[Mapping[str, Mapping[str, float]]], labels: Mapping[str, str], *, headline: str,
           json_path: Path | None, settings: Mapping[str, Any]) -> dict[str, Any]:
    """Prints the table and the goals (own condition >= each condition without + 0.05, per group)
    and writes them as one JSON object: {"accuracy": {condition: {group: {mean, ci95, per_seed}}},
    "goals": {what: {margin, met}}, "settings": {flag: value}}."""
    import json

    summary = summarise(runs)
    checks = goals(summary, own="own", without=("none", "trained_without"))
    print(headline)
    print(table(summary, labels))
    print("\ngoals (margin: + met by, - missed by)")
    print("\n".join(f"  {what:<52}{by:+.3f}  {'met' if ok else 'MISSED'}" for what, by, ok in checks))
    figures = {"accuracy": summary, "goals": {what: {"margin": by, "met": ok} for what, by, ok in checks},
               "settings": {k: str(v) for k, v in settings.items()}}
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2))
    return figures


def minilm_reward_base(cache: Path) -> Path:
    """The bundled all-MiniLM-L6-v2 (a 6-layer BERT, 22M weights: about a sixth of SmolLM2's
    compute per token) as a folder a reward trainer can start from: a copy whose tokenizer names an
    end-of-sequence token ([SEP]), which BERT's lacks and TRL's RewardTrainer and SALMON's input
    format append. BERT scores from its first token, so the appended [SEP] changes nothing else."""
    import shutil

    from transformers import AutoTokenizer

    from chorus.inference.embeddings import bundled_model_dir

    folder = cache / "all-minilm-l6-v2-reward-base"
    if (folder / "tokenizer_config.json").exists():
        return folder
    staging = cache / ".all-minilm-l6-v2-reward-base.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name in ("config.json", "model.safetensors"):
        shutil.copy(bundled_model_dir() / name, staging / name)
    tokenizer = AutoTokenizer.from_pretrained(bundled_model_dir())
    tokenizer.eos_token = tokenizer.sep_token
    tokenizer.save_pretrained(staging)
    staging.replace(folder)
    return folder
