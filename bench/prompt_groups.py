"""How much of an annotator's group does the prompt alone give away? On the HH-RLHF slices each
annotator judged for one objective, and the prompts they were shown came with it (the harmless
annotators' are largely red-teaming). A reward that reads the prompt can then apply each group's
taste without being told the group, which caps what a principle (SALMON) or a system message
(Janus) can add over a model trained without them (bench/salmon_real.py, bench/janus_real.py).

    .venv/bin/python bench/prompt_groups.py --data ../shared/data/hh_hidden_context/dev.jsonl.gz \
        --users ../shared/data/hh_hidden_context/dev_users.csv [--seeds 3]

Per seed, a quarter of the people are held out whole; a logistic regression on the frozen MiniLM
embedding of each prompt (its last 256 tokens, as bench/population_real.py embeds texts; L2 chosen
from a few values on the training people alone) is fitted to the training people's group and
scored on the held-out people's prompts, one by one and as a majority vote over each person's
prompts, as balanced accuracy (0.5 is a guess, whatever the groups' sizes).
"""
from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(1, str(Path(__file__).resolve().parent.parent / "platform"))

from bench.population_real import interval, read_groups, read_pairs
from bench.text_features import features
from training.methods.common.mixture import fit_linear

L2_CHOICES = (0.001, 0.01, 0.1, 1.0)


def fit(x, y, *, l2: float):  # type: ignore[no-untyped-def]
    """Logistic regression (with a bias) of y in {+1, -1} on x, as a Bradley-Terry fit of y * x."""
    import torch

    with_bias = torch.cat([x, torch.ones(len(x), 1)], 1)
    return fit_linear(with_bias * y[:, None], l2=l2)


def predict(w, x):  # type: ignore[no-untyped-def]
    import torch

    return torch.cat([x, torch.ones(len(x), 1)], 1) @ w > 0


def choose_l2(x, y, people: list[str], who: list[str], seed: int) -> float:  # type: ignore[no-untyped-def]
    """The L2 whose fit scores best on a quarter of the training people held out again."""
    inner = set(random.Random(seed + 1).sample(people, max(1, len(people) // 4)))
    fit_rows = [i for i, u in enumerate(who) if u not in inner]
    val_rows = [i for i, u in enumerate(who) if u in inner]

    def score(l2: float) -> float:
        w = fit(x[fit_rows], y[fit_rows], l2=l2)
        return float((predict(w, x[val_rows]) == (y[val_rows] > 0)).float().mean())

    return max(L2_CHOICES, key=score)


def run_seed(x, y, who: list[str], *, seed: int) -> dict[str, float]:  # type: ignore[no-untyped-def]

    people = sorted(set(who))
    held = set(random.Random(seed).sample(people, len(people) // 4))
    train = [i for i, u in enumerate(who) if u not in held]
    test = [i for i, u in enumerate(who) if u in held]
    l2 = choose_l2(x[train], y[train], [p for p in people if p not in held], [who[i] for i in train], seed)
    w = fit(x[train], y[train], l2=l2)
    guesses = predict(w, x[test]).tolist()
    truth = [bool(y[i] > 0) for i in test]
    votes: dict[str, list[bool]] = {}
    for i, guess in zip(test, guesses):
        votes.setdefault(who[i], []).append(guess)
    people_truth = [bool(y[who.index(u)] > 0) for u in votes]
    people_guess = [sum(v) * 2 > len(v) for v in votes.values()]
    return {"prompt": balanced(truth, guesses), "person": balanced(people_truth, people_guess), "l2": l2,
            "held_out_people": len(held), "held_out_prompts": len(test)}


def balanced(truth: list[bool], guesses: list[bool]) -> float:
    """The mean over the two groups of the share told right: 0.5 for any guess that ignores the
    input, whatever the groups' sizes (a group absent from the held-out people is left out)."""
    shares = [sum(g == t for t, g in zip(truth, guesses) if t == side) / truth.count(side)
              for side in (True, False) if side in truth]
    return sum(shares) / len(shares)


def main(argv: list[str] | None = None) -> int:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, type=Path)
    parser.add_argument("--users", required=True, type=Path, help="CSV of user, group")
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    groups = read_groups(args.users)
    pairs = [p for p in read_pairs(args.data).pairs if p.user in groups]
    names = sorted(set(groups.values()))
    if len(names) != 2:
        raise SystemExit(f"--users: this bench needs two groups, found {names}")
    _, x = features([p.prompt for p in pairs], "minilm")
    y = torch.tensor([1.0 if groups[p.user] == names[0] else -1.0 for p in pairs])
    who = [p.user for p in pairs]
    runs = [run_seed(x, y, who, seed=seed) for seed in range(args.seeds)]
    print(f"{len(pairs)} prompts of {len(set(who))} people in two groups ({names[0]} / {names[1]}); "
          f"a quarter of the people held out whole, {args.seeds} seeds")
    print("balanced accuracy (the mean of the two groups' shares told right; 0.5 is no better than a guess):")
    for key, label in (("prompt", "group told from one prompt"), ("person", "group told from a person's prompts "
                                                                          "(majority)")):
        mean, ci = interval([r[key] for r in runs])
        print(f"  {label:<48} {mean:.3f} +- {ci:.3f}  ({' / '.join(f'{r[key]:.3f}' for r in runs)})")
    print(f"  L2 chosen per seed: {' / '.join(str(r['l2']) for r in runs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
