"""PAL: a personalised reward model for a population, as a mixture of ideal points (after Chen et
al. 2024, "PAL: Sample-Efficient Personalized Reward Modeling for Pluralistic Alignment"). Plain
torch/transformers; no Django.

Every (prompt, response) becomes a point z = f(h) in a d-dimensional space: h is the base model's
last hidden state averaged over the tokens (the base stays frozen, so h is computed once), f a
learned linear map. K prototype ideal points p_1..p_K live in the same space, and each person u
has mixture weights w_u = softmax(theta_u) over them: their ideal point is a_u = sum_k w_uk p_k.
Their reward is closeness to it, r_u(x, y) = -||z(x, y) - a_u||^2, trained with the Bradley-Terry
loss -log sigmoid(r_u(x, chosen) - r_u(x, rejected)) over everyone's pairs.

Someone new is fitted from a few of their pairs by learning only their K weights (`fit_user`);
the map and the prototypes stay as trained. `PalScorer.score(user, prompt, response)` scores for
a known person; `score_weights` for any mixture.
"""
from __future__ import annotations

import json
import math
import random
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .contract import Hooks, RunInputs, RunResult, last_complete_checkpoint

TARGET_KINDS = ("preference_population",)
REQUIRED_FILES = ("preferences.jsonl", "users.jsonl")


@dataclass
class Config:
    prototypes: int = field(default=4, metadata={"help": "K: prototype ideal points people mix.", "min": 1, "max": 64})
    dim: int = field(default=32, metadata={"help": "Dimensions of the space where responses and ideals meet.",
                                           "min": 1, "max": 4096})
    steps: int = field(default=2000, metadata={"help": "Optimizer steps over everyone's pairs.", "min": 1})
    batch_size: int = field(default=256, metadata={"help": "Preference pairs per step.", "min": 1, "max": 65536})
    learning_rate: float = field(default=5e-3, metadata={"help": "AdamW learning rate.", "min": 1e-6, "max": 1.0})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay: keeps the map from memorising.",
                                                        "min": 0.0, "max": 10.0})
    max_length: int = field(default=512, metadata={"help": "Most tokens of prompt + response read by the base model.",
                                                   "min": 8})
    feature_batch_size: int = field(default=32, metadata={"help": "Texts per forward pass of the base model.",
                                                          "min": 1, "max": 1024})
    eval_fraction: float = field(default=0.2, metadata={"help": "Share of each person's pairs held out.",
                                                        "min": 0.0, "max": 0.5})
    new_user_fraction: float = field(default=0.2, metadata={
        "help": "Share of people held out entirely, to measure fitting someone new from a few pairs.",
        "min": 0.0, "max": 0.5})
    adaptation_pairs: int = field(default=4, metadata={"help": "Pairs a new person's weights are fitted from.",
                                                       "min": 1, "max": 1000})
    adaptation_steps: int = field(default=200, metadata={"help": "Optimizer steps when fitting a new person.",
                                                         "min": 1, "max": 100000})
    save_steps: int = field(default=500, metadata={"help": "Checkpoint every this many steps.", "min": 1})
    logging_steps: int = field(default=50, metadata={"help": "Report loss every this many steps.", "min": 1})
    seed: int = field(default=0, metadata={"help": "Seeds the splits, initial weights and batches.", "min": 0})

    @classmethod
    def tiny(cls) -> Config:
        """Trains on the 2-layer test Llama's features on CPU in seconds (see `toy_population`)."""
        return cls(prototypes=2, dim=8, steps=400, batch_size=64, learning_rate=0.05, max_length=64,
                   adaptation_steps=100, save_steps=100, logging_steps=25)


MODEL_CARD = """\
A PAL personalised reward model: the base model (frozen, saved here) reads one text per response,

```text
Prompt: <prompt>
Response: <response>
```

and its last hidden state, averaged over the tokens, is mapped to a point in a small space
(`pal.safetensors`: `map.weight`, `map.bias`, `prototypes`, `user_logits`; sizes in `pal.json`).
A person's reward for a response is minus its squared distance to their ideal point, a mixture of
the prototypes with their weights. Load it with the `PalScorer` class of Chorus'
`training/methods/pal.py`; `pal.json` lists the (pseudonymous) people it knows, in the order of
`user_logits`. Someone new is fitted from a few of their labelled pairs by learning only their
mixture weights.

**Intended use**: ranking responses for a person or group whose preferences it has seen or can be
fitted to; studying how a population's preferences cluster (the prototypes). **Limits**: it only
knows the people, prompts and kinds of response in its target; a person's weights from a handful
of pairs are uncertain; rewards compare responses for one person and prompt, not across people.
"""


USAGE = """\
from training.methods.pal import PalScorer  # from a Chorus checkout (the repository root on sys.path)

scorer = PalScorer.load(path)
person = scorer.users[0]  # pseudonyms, as in pal.json
print(scorer.score(person, "How do I make tea?", "Boil water, then steep."))
"""

# --- data ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrefPair:
    user: str
    prompt: str
    chosen: str
    rejected: str


def format_text(prompt: str, response: str) -> str:
    """What the base model reads for one response (see MODEL_CARD)."""
    return f"Prompt: {prompt}\nResponse: {response}"


def read_pairs(path: Path) -> list[PrefPair]:
    with open(path, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    return [PrefPair(r["user"], r["prompt"], r["chosen"], r["rejected"]) for r in rows]


@dataclass(frozen=True)
class Split:
    train: list[PrefPair]
    held_out: list[PrefPair]  # later pairs of people seen in training
    new_users: dict[str, list[PrefPair]]  # people never seen in training: all their pairs, in order


def split_population(pairs: Sequence[PrefPair], config: Config) -> Split:
    """New people are drawn at random among those with more than `adaptation_pairs` pairs (at least
    2 people stay seen); each seen person keeps their last `eval_fraction` of pairs (at least one
    left to train on) for evaluation."""
    by_user: dict[str, list[PrefPair]] = defaultdict(list)
    for pair in pairs:
        by_user[pair.user].append(pair)
    users = sorted(by_user)
    random.Random(config.seed).shuffle(users)
    # Only people with pairs left over after fitting them can say how well they were fitted.
    testable = [u for u in users if len(by_user[u]) > config.adaptation_pairs]
    n_new = min(round(len(users) * config.new_user_fraction), max(len(users) - 2, 0), len(testable))
    new_users = {u: by_user[u] for u in testable[:n_new]}
    train, held_out = [], []
    for user in (u for u in users if u not in new_users):
        own = by_user[user]
        keep = max(len(own) - round(len(own) * config.eval_fraction), 1)
        train += own[:keep]
        held_out += own[keep:]
    return Split(train, held_out, new_users)


# --- features from the frozen base model ------------------------------------------------------


class Featuriser:
    """The base model's mean last hidden state for texts, one forward pass per batch."""

    def __init__(self, path: str, *, device: str, bf16: bool, max_length: int) -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self.tokenizer = AutoTokenizer.from_pretrained(path)
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        self.tokenizer.padding_side = "right"
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

    def close(self) -> None:
        import gc

        import torch

        del self.model
        gc.collect()
        if self.device == "cuda":
            torch.cuda.empty_cache()


# --- the model ---------------------------------------------------------------------------------


def _new_head(hidden: int, config: Config, users: int) -> Any:
    import torch

    class PalHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.map = torch.nn.Linear(hidden, config.dim)
            self.prototypes = torch.nn.Parameter(torch.randn(config.prototypes, config.dim))  # (K, d)
            self.user_logits = torch.nn.Parameter(torch.zeros(users, config.prototypes))  # (U, K)

        def reward(self, features: Any, weights: Any) -> Any:
            """features (N, H), weights (N, K) on the simplex -> rewards (N,)."""
            ideal = weights @ self.prototypes  # (N, d)
            return -((self.map(features) - ideal) ** 2).sum(-1)

    return PalHead()


def _bt_loss(head: Any, chosen: Any, rejected: Any, weights: Any) -> tuple[Any, Any]:
    import torch

    margin = head.reward(chosen, weights) - head.reward(rejected, weights)  # (N,)
    return -torch.nn.functional.logsigmoid(margin).mean(), (margin > 0).float().mean()


def _standardiser(features: Any) -> tuple[Any, Any]:
    """Mean and spread of the training features: the map sees centred, unit-scale inputs."""
    return features.mean(0), features.std(0).clamp_min(1e-6)


@dataclass
class Trained:
    head: Any
    users: list[str]  # row i of head.user_logits
    mean: Any  # (H,)
    std: Any  # (H,)


def fit_population(features: Any, index: Mapping[str, int], pairs: Sequence[PrefPair], *, config: Config,
                   checkpoints: Path | None = None, hooks: Hooks | None = None) -> Trained:
    """Trains map, prototypes and every person's weights on `pairs`; resumes from `checkpoints`."""
    import torch

    users = sorted({p.user for p in pairs})
    row = {u: i for i, u in enumerate(users)}
    mean, std = _standardiser(features)
    x = (features - mean) / std  # (N, H)
    chosen = torch.tensor([index[format_text(p.prompt, p.chosen)] for p in pairs])
    rejected = torch.tensor([index[format_text(p.prompt, p.rejected)] for p in pairs])
    who = torch.tensor([row[p.user] for p in pairs])
    torch.manual_seed(config.seed)
    head = _new_head(x.shape[1], config, len(users))
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    step = 0
    resume = last_complete_checkpoint(checkpoints) if checkpoints else None
    if resume:
        state = torch.load(Path(resume) / "state.pt", weights_only=True)
        head.load_state_dict(state["head"])
        optimiser.load_state_dict(state["optimiser"])
        step = state["step"]
        if hooks:
            hooks.log(f"resuming training from {Path(resume).name}")
    generator = torch.Generator().manual_seed(config.seed + step)
    while step < config.steps:
        batch = torch.randint(len(pairs), (min(config.batch_size, len(pairs)),), generator=generator)
        weights = torch.softmax(head.user_logits[who[batch]], -1)  # (B, K)
        loss, accuracy = _bt_loss(head, x[chosen[batch]], x[rejected[batch]], weights)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if hooks:
            hooks.progress(0.3 + 0.6 * step / config.steps, stage="training")
            if step % config.logging_steps == 0 or step == config.steps:
                hooks.metrics(step, {"loss": float(loss.detach()), "accuracy": float(accuracy)})
            hooks.check_cancelled()
        if checkpoints and (step % config.save_steps == 0 or step == config.steps):
            _save_checkpoint(checkpoints, step, head, optimiser)
            if hooks:
                hooks.log(f"checkpoint saved at step {step}")
    return Trained(head.eval(), users, mean, std)


def _save_checkpoint(folder: Path, step: int, head: Any, optimiser: Any) -> None:
    """Written like transformers' checkpoints, trainer_state.json last, so that one cut short by a
    crash is skipped on resume; the newest two are kept."""
    import shutil

    import torch

    target = folder / f"checkpoint-{step}"
    target.mkdir(parents=True, exist_ok=True)
    torch.save({"head": head.state_dict(), "optimiser": optimiser.state_dict(), "step": step}, target / "state.pt")
    (target / "trainer_state.json").write_text(json.dumps({"global_step": step}))
    for old in sorted(folder.glob("checkpoint-*"), key=lambda d: int(d.name.split("-")[1]))[:-2]:
        shutil.rmtree(old, ignore_errors=True)


# --- scoring and fitting someone new ----------------------------------------------------------


class PalScorer:
    """A trained PAL model in memory or loaded from its folder."""

    def __init__(self, trained: Trained, featuriser: Featuriser) -> None:
        self.trained, self.featuriser = trained, featuriser
        self.known: dict[str, Any] = {}  # text -> its base-model features, when already computed

    def remember(self, texts: Sequence[str], features: Any) -> None:
        self.known.update(zip(texts, features))

    @property
    def users(self) -> list[str]:
        return self.trained.users

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> PalScorer:
        from safetensors.torch import load_file

        meta = json.loads((Path(path) / "pal.json").read_text())
        tensors = load_file(Path(path) / "pal.safetensors")
        config = Config(prototypes=meta["prototypes"], dim=meta["dim"])
        head = _new_head(meta["hidden"], config, len(meta["users"]))
        head.load_state_dict({k: v for k, v in tensors.items() if k not in ("mean", "std")})
        trained = Trained(head.eval(), list(meta["users"]), tensors["mean"], tensors["std"])
        return cls(trained, Featuriser(str(path), device=device, bf16=False, max_length=meta["max_length"]))

    def save(self, folder: Path, *, max_length: int) -> None:
        from safetensors.torch import save_file

        head = self.trained.head
        tensors = {k: v.detach().contiguous() for k, v in head.state_dict().items()}
        save_file({**tensors, "mean": self.trained.mean.contiguous(), "std": self.trained.std.contiguous()},
                  folder / "pal.safetensors")
        (folder / "pal.json").write_text(json.dumps({
            "prototypes": head.prototypes.shape[0], "dim": head.prototypes.shape[1], "hidden": head.map.in_features,
            "max_length": max_length, "input_format": format_text("<prompt>", "<response>"),
            "users": self.trained.users,
        }, indent=2))
        self.featuriser.model.save_pretrained(folder)
        self.featuriser.tokenizer.save_pretrained(folder)

    def weights_of(self, user: str) -> list[float]:
        import torch

        logits = self.trained.head.user_logits[self.trained.users.index(user)]
        return torch.softmax(logits.detach(), -1).tolist()

    def score(self, user: str, prompt: str, response: str) -> float:
        return self.score_weights(self.weights_of(user), prompt, response)

    def score_weights(self, weights: Sequence[float], prompt: str, response: str) -> float:
        return self.rewards(weights, [(prompt, response)])[0]

    def rewards(self, weights: Sequence[float], items: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        x = self._features([format_text(p, r) for p, r in items])
        w = torch.tensor([list(weights)] * len(items), dtype=torch.float32)
        with torch.no_grad():
            return self.trained.head.reward(x, w).tolist()

    def fit_user(self, pairs: Sequence[tuple[str, str, str]], *, steps: int = 200, learning_rate: float = 0.1) -> list[float]:
        """Mixture weights for someone new from their (prompt, chosen, rejected) pairs; only K
        numbers are learned, so a handful of pairs is enough to place them."""
        import torch

        x = self._features([format_text(p, c) for p, c, _ in pairs] + [format_text(p, r) for p, _, r in pairs])
        chosen, rejected = x[: len(pairs)], x[len(pairs) :]
        logits = torch.zeros(1, self.trained.head.prototypes.shape[0], requires_grad=True)
        optimiser = torch.optim.Adam([logits], lr=learning_rate)
        for _ in range(steps):
            loss, _ = _bt_loss(self.trained.head, chosen, rejected, torch.softmax(logits, -1).expand(len(pairs), -1))
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
        return torch.softmax(logits.detach(), -1)[0].tolist()

    def pair_accuracy(self, weights: Sequence[float], pairs: Sequence[PrefPair]) -> float:
        if not pairs:
            return math.nan
        items = [(p.prompt, p.chosen) for p in pairs] + [(p.prompt, p.rejected) for p in pairs]
        rewards = self.rewards(weights, items)
        return sum(c > r for c, r in zip(rewards[: len(pairs)], rewards[len(pairs) :])) / len(pairs)

    def _features(self, texts: Sequence[str]) -> Any:
        import torch

        missing = [t for t in dict.fromkeys(texts) if t not in self.known]
        if missing:
            self.remember(missing, self.featuriser(missing))
        return (torch.stack([self.known[t] for t in texts]) - self.trained.mean) / self.trained.std  # (N, H)


# --- the run ----------------------------------------------------------------------------------


def train(inputs: RunInputs, config: Config, hooks: Hooks) -> RunResult:
    """Features once (kept in work_dir), then the population fit (checkpointed), then evaluation:
    seen people on their held-out pairs, and new people fitted from their first few pairs."""
    import torch

    pairs = read_pairs(inputs.dataset["preferences.jsonl"])
    split = split_population(pairs, config)
    seen = sorted({p.user for p in split.train})
    if len(seen) < 2:
        raise ValueError(f"PAL needs pairs from at least 2 people to train on; this target has {len(seen)}")
    hooks.log(f"{len(pairs)} pairs from {len(seen) + len(split.new_users)} people: {len(split.train)} to train on, "
              f"{len(split.held_out)} held out, {len(split.new_users)} people kept aside as new")
    texts = sorted({format_text(p.prompt, r) for p in pairs for r in (p.chosen, p.rejected)})
    featuriser = Featuriser(inputs.base_model, device=inputs.device, bf16=inputs.bf16, max_length=config.max_length)
    cached = inputs.work_dir / "features.pt"
    if cached.exists():
        features = torch.load(cached, weights_only=True)
        hooks.log(f"resuming with the features of {len(texts)} responses from an earlier attempt")
    else:
        features = featuriser(texts, batch_size=config.feature_batch_size, hooks=hooks)
        torch.save(features, cached.with_name(".features.pt.tmp"))
        cached.with_name(".features.pt.tmp").replace(cached)
    index = {t: i for i, t in enumerate(texts)}
    trained = fit_population(features, index, split.train, config=config, checkpoints=inputs.work_dir / "checkpoints",
                             hooks=hooks)
    scorer = PalScorer(trained, featuriser)
    scorer.remember(texts, features)

    hooks.progress(0.92, stage="evaluating")
    metrics = {"train_accuracy": _accuracy(scorer, split.train, scorer.weights_of)}
    if split.held_out:
        metrics["eval_accuracy"] = _accuracy(scorer, split.held_out, scorer.weights_of)
        everyone = torch.tensor([scorer.weights_of(u) for u in seen]).mean(0).tolist()
        metrics["eval_accuracy_population_weights"] = _accuracy(scorer, split.held_out, lambda _: everyone)
    if split.new_users:
        right = total = 0
        for own in split.new_users.values():
            fitted = scorer.fit_user([(p.prompt, p.chosen, p.rejected) for p in own[: config.adaptation_pairs]],
                                     steps=config.adaptation_steps)
            rest = own[config.adaptation_pairs :]
            right += round(scorer.pair_accuracy(fitted, rest) * len(rest))
            total += len(rest)
        metrics["new_user_accuracy"] = right / total
    scorer.save(inputs.output_dir, max_length=config.max_length)
    dominant = torch.softmax(trained.head.user_logits.detach(), -1).argmax(-1)  # (U,)
    summary = {"people": len(seen) + len(split.new_users), "pairs": len(pairs), "train_pairs": len(split.train),
               "held_out_pairs": len(split.held_out), "new_people": len(split.new_users),
               "people_per_prototype": torch.bincount(dominant, minlength=config.prototypes).tolist()}
    return RunResult(metrics=metrics, summary=summary)


def _accuracy(scorer: PalScorer, pairs: Sequence[PrefPair], weights_for: Any) -> float:
    """Pooled over people: each person's pairs scored with `weights_for(user)`."""
    by_user: dict[str, list[PrefPair]] = defaultdict(list)
    for pair in pairs:
        by_user[pair.user].append(pair)
    right = sum(scorer.pair_accuracy(weights_for(u), own) * len(own) for u, own in by_user.items())
    return right / len(pairs)


# --- a toy population with a known answer (tests, benches, the tiny config) --------------------

TOY_PROMPTS = tuple(f"How do I {topic}?" for topic in (
    "boil an egg", "tie a knot", "plant a seed", "fix a tire", "learn a song", "clean a pan", "fold a shirt",
    "bake bread", "write a card", "paint a wall", "read a map", "make tea", "save money", "sew a button",
))
_TOY_CORE = ("Do it slowly.", "Ask a friend.", "Start small.", "Take your time.", "Keep it simple.", "Just try it.")
_TOY_MORE = ("Then check it twice, and wait a bit before the next step.",
             "First read the steps, then gather what you need and go.",
             "Go one step at a time, and note what went wrong each time.")


def toy_population(people: int, pairs_per_person: int, seed: int) -> list[PrefPair]:
    """Even-numbered people prefer the short answer, odd-numbered the long one: a single reward for
    everybody can be right for only half of them."""
    rng = random.Random(seed)
    pairs = []
    for n in range(people):
        for _ in range(pairs_per_person):
            core = rng.choice(_TOY_CORE)
            short, long = core, f"{core} {rng.choice(_TOY_MORE)}"
            chosen, rejected = (short, long) if n % 2 == 0 else (long, short)
            pairs.append(PrefPair(f"person-{n:03d}", rng.choice(TOY_PROMPTS), chosen, rejected))
    return pairs
