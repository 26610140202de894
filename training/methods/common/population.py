"""What the personalised methods (PAL, VPL) share: a preference-population target's pairs, the
split into people seen in training and people kept aside as new, the frozen base model's features
of every response (computed once, kept in the run's work folder), checkpoints and pooled
accuracy. Not a method itself; no Django.
"""
from __future__ import annotations

import json
import math
import random
import shutil
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.methods.common import distributed
from training.methods.common.contract import Hooks, RunInputs, last_complete_checkpoint
from training.methods.common.splits import pair_wins


@dataclass(frozen=True)
class PrefPair:
    user: str
    prompt: str
    chosen: str
    rejected: str


def format_text(prompt: str, response: str) -> str:
    """What the base model reads for one response (see each method's MODEL_CARD)."""
    return f"Prompt: {prompt}\nResponse: {response}"


def read_pairs(path: Path) -> list[PrefPair]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [PrefPair(r["user"], r["prompt"], r["chosen"], r["rejected"]) for r in rows]


def by_user(pairs: Sequence[PrefPair]) -> dict[str, list[PrefPair]]:
    grouped: dict[str, list[PrefPair]] = defaultdict(list)
    for pair in pairs:
        grouped[pair.user].append(pair)
    return dict(grouped)


@dataclass(frozen=True)
class Split:
    train: list[PrefPair]
    held_out: list[PrefPair]  # later pairs of people seen in training
    new_users: dict[str, list[PrefPair]]  # people never seen in training: all their pairs, in order


def split_population(pairs: Sequence[PrefPair], *, seed: int, new_user_fraction: float, eval_fraction: float,
                     adaptation_pairs: int) -> Split:
    """New people are drawn at random among those with more than `adaptation_pairs` pairs (at least
    2 people stay seen); each seen person keeps their last `eval_fraction` of pairs (at least one
    left to train on) for evaluation."""
    grouped = by_user(pairs)
    users = sorted(grouped)
    random.Random(seed).shuffle(users)
    # Only people with pairs left over after fitting them can say how well they were fitted.
    testable = [u for u in users if len(grouped[u]) > adaptation_pairs]
    n_new = min(round(len(users) * new_user_fraction), max(len(users) - 2, 0), len(testable))
    new_users = {u: grouped[u] for u in testable[:n_new]}
    train, held_out = [], []
    for user in (u for u in users if u not in new_users):
        own = grouped[user]
        keep = max(len(own) - round(len(own) * eval_fraction), 1)
        train += own[:keep]
        held_out += own[keep:]
    return Split(train, held_out, new_users)


def pooled_accuracy(pairs: Sequence[PrefPair], accuracy_of: Callable[[str, list[PrefPair]], float]) -> float:
    """Accuracy over all pairs, each person's own scored by `accuracy_of(user, their pairs)`."""
    right = sum(accuracy_of(user, own) * len(own) for user, own in by_user(pairs).items())
    return right / len(pairs)


def new_user_accuracy(new_users: dict[str, list[PrefPair]], first: int,
                      fit: Callable[[list[PrefPair]], Any], accuracy: Callable[[Any, list[PrefPair]], float]) -> float:
    """Each new person fitted from their first `first` pairs, scored on the rest, pooled."""
    right = total = 0
    for own in new_users.values():
        rest = own[first:]
        right += round(accuracy(fit(own[:first]), rest) * len(rest))
        total += len(rest)
    return right / total


# --- features from the frozen base model ------------------------------------------------------


class Featuriser:
    """The base model's mean last hidden state for texts, one forward pass per batch."""

    def __init__(self, path: str, *, device: str, bf16: bool, max_length: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        # Long multi-turn prompts: keep the end of the text, where the response is. Cut on the right,
        # a prompt longer than max_length leaves nothing of the response, and chosen and rejected
        # then read the same.
        self.tokenizer.padding_side, self.tokenizer.truncation_side = "right", "left"
        self.model = AutoModel.from_pretrained(path, dtype=torch.bfloat16 if bf16 else torch.float32).to(device).eval()
        self.device, self.max_length = device, max_length

    def __call__(self, texts: Sequence[str], *, batch_size: int = 32, hooks: Hooks | None = None) -> Any:
        import torch

        out = []
        for start in range(0, len(texts), batch_size):
            if hooks:
                hooks.check_cancelled()
                hooks.progress(0.3 * start / len(texts), stage="reading responses")
            enc = self.tokenizer(list(texts[start : start + batch_size]), return_tensors="pt", padding=True,
                                 truncation=True, max_length=self.max_length).to(self.device)  # (B, T)
            with torch.inference_mode():
                hidden = self.model(**enc).last_hidden_state.float()  # (B, T, H)
            mask = enc["attention_mask"].unsqueeze(-1).float()  # (B, T, 1)
            out.append(((hidden * mask).sum(1) / mask.sum(1)).cpu())  # (B, H)
        return torch.cat(out)  # (N, H)

    def save(self, folder: Path) -> None:
        """The frozen base travels with the model, loadable with from_pretrained."""
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)


def features_of_every_response(inputs: RunInputs, pairs: Sequence[PrefPair], *, max_length: int, batch_size: int,
                               hooks: Hooks) -> tuple[Featuriser, list[str], Any]:
    """(featuriser, texts, features (N, H)) for every distinct prompt + response; the features are
    kept in work_dir so that a resumed run does not compute them again. Under torchrun each process
    reads its block of the texts and they exchange the rows; the writer keeps the cache."""
    import torch

    texts = sorted({format_text(p.prompt, r) for p in pairs for r in (p.chosen, p.rejected)})
    featuriser = Featuriser(inputs.base_model, device=inputs.device, bf16=inputs.bf16, max_length=max_length)
    cached = inputs.work_dir / "features.pt"
    if distributed.agree(cached.exists()):  # the writer's disk decides, so that every process takes one path
        features = distributed.share_tensor(torch.load(cached, weights_only=True) if distributed.is_writer() else None)
        hooks.log(f"resuming with the features of {len(texts)} responses from an earlier attempt")
    else:
        features = distributed.gather_rows(
            lambda start, stop: featuriser(texts[start:stop], batch_size=batch_size, hooks=hooks), len(texts))
        if distributed.is_writer():
            torch.save(features, cached.with_name(".features.pt.tmp"))
            cached.with_name(".features.pt.tmp").replace(cached)
    return featuriser, texts, features


def standardiser(features: Any) -> tuple[Any, Any]:
    """Mean and spread of the training features: the heads see centred, unit-scale inputs."""
    return features.mean(0), features.std(0).clamp_min(1e-6)


class FeatureCache:
    """Features of texts, from the run's cache when known, else from the base model."""

    def __init__(self, featuriser: Featuriser, mean: Any, std: Any) -> None:
        self.featuriser, self.mean, self.std = featuriser, mean, std
        self.known: dict[str, Any] = {}

    def remember(self, texts: Sequence[str], features: Any) -> None:
        self.known.update(zip(texts, features))

    def standardised(self, texts: Sequence[str]) -> Any:
        import torch

        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.remember(missing, self.featuriser(missing))
        return (torch.stack([self.known[t] for t in texts]) - self.mean) / self.std  # (N, H)

    def pairs(self, triples: Sequence[tuple[str, str, str]]) -> tuple[Any, Any]:
        """(chosen (N, H), rejected (N, H)) for (prompt, chosen, rejected) triples."""
        x = self.standardised([format_text(p, c) for p, c, _ in triples] + [format_text(p, r) for p, _, r in triples])
        return x[: len(triples)], x[len(triples) :]


class PopulationScorer:
    """What PAL's and VPL's scorers share: features through a cache, the people seen in training,
    and pair accuracy for one person's parameters (PAL: mixture weights; VPL: a latent)."""

    def __init__(self, trained: Any, featuriser: Featuriser) -> None:
        self.trained, self.featuriser = trained, featuriser
        self.cache = FeatureCache(featuriser, trained.mean, trained.std)

    def remember(self, texts: Sequence[str], features: Any) -> None:
        self.cache.remember(texts, features)

    @property
    def users(self) -> list[str]:
        return self.trained.users

    def rewards(self, params: Sequence[float], items: Sequence[tuple[str, str]]) -> list[float]:
        raise NotImplementedError

    def pair_accuracy(self, params: Sequence[float], pairs: Sequence[PrefPair]) -> float:
        if not pairs:
            return math.nan
        items = [(p.prompt, p.chosen) for p in pairs] + [(p.prompt, p.rejected) for p in pairs]
        rewards = self.rewards(params, items)
        return sum(pair_wins(rewards[: len(pairs)], rewards[len(pairs) :])) / len(pairs)


@dataclass(frozen=True)
class Prepared:
    pairs: list[PrefPair]
    split: Split
    seen: list[str]  # people trained on
    featuriser: Featuriser
    texts: list[str]
    features: Any  # (N, H), row i for texts[i]


def prepare(inputs: RunInputs, config: Any, hooks: Hooks, *, method: str) -> Prepared:
    """The opening of a personalised run: read and split the pairs (refusing fewer than two people
    to train on), then the features of every response."""
    pairs = read_pairs(inputs.dataset["preferences.jsonl"])
    split = split_population(pairs, seed=config.seed, new_user_fraction=config.new_user_fraction,
                             eval_fraction=config.eval_fraction, adaptation_pairs=config.adaptation_pairs)
    seen = sorted({p.user for p in split.train})
    if len(seen) < 2:
        raise ValueError(f"{method} needs pairs from at least 2 people to train on; this target has {len(seen)}")
    hooks.log(f"{len(pairs)} pairs from {len(seen) + len(split.new_users)} people: {len(split.train)} to train on, "
              f"{len(split.held_out)} held out, {len(split.new_users)} people kept aside as new")
    featuriser, texts, features = features_of_every_response(
        inputs, pairs, max_length=config.max_length, batch_size=config.feature_batch_size, hooks=hooks)
    return Prepared(pairs, split, seen, featuriser, texts, features)


def evaluate(scorer: PopulationScorer, prepared: Prepared, *, own: Callable[[str], Any], average: Any,
             average_key: str, place: Callable[[list[PrefPair]], Any], adaptation_pairs: int) -> dict[str, float]:
    """Accuracy on training pairs and held-out pairs with each person's own parameters (`own(user)`),
    on held-out pairs with everyone's `average` (under `average_key`), and for new people placed
    from their first pairs by `place`."""
    split = prepared.split
    metrics = {"train_accuracy": pooled_accuracy(split.train, lambda u, mine: scorer.pair_accuracy(own(u), mine))}
    if split.held_out:
        metrics["eval_accuracy"] = pooled_accuracy(split.held_out, lambda u, mine: scorer.pair_accuracy(own(u), mine))
        metrics[average_key] = pooled_accuracy(split.held_out, lambda _, mine: scorer.pair_accuracy(average, mine))
    if split.new_users:
        metrics["new_user_accuracy"] = new_user_accuracy(split.new_users, adaptation_pairs, fit=place,
                                                         accuracy=scorer.pair_accuracy)
    return metrics


def population_summary(prepared: Prepared) -> dict[str, int]:
    split = prepared.split
    return {"people": len(prepared.seen) + len(split.new_users), "pairs": len(prepared.pairs),
            "train_pairs": len(split.train), "held_out_pairs": len(split.held_out), "new_people": len(split.new_users)}


# --- checkpoints --------------------------------------------------------------------------------


def save_checkpoint(folder: Path, step: int, state: dict) -> None:
    """Written like transformers' checkpoints, trainer_state.json last, so that one cut short by a
    crash is skipped on resume; the newest two are kept."""
    import torch

    target = folder / f"checkpoint-{step}"
    target.mkdir(parents=True, exist_ok=True)
    torch.save({**state, "step": step}, target / "state.pt")
    (target / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    for old in sorted(folder.glob("checkpoint-*"), key=lambda d: int(d.name.split("-")[1]))[:-2]:
        shutil.rmtree(old, ignore_errors=True)


def load_checkpoint(folder: Path, hooks: Hooks | None) -> dict | None:
    """The newest complete checkpoint's state (with its "step"), or None."""
    import torch

    resume = last_complete_checkpoint(folder)
    if not resume:
        return None
    if hooks:
        hooks.log(f"resuming training from {Path(resume).name}")
    return torch.load(Path(resume) / "state.pt", weights_only=True)

