"""PAL: a personalised reward model for a population, as a mixture of ideal points (after Chen et
al. 2024, "PAL: Sample-Efficient Personalized Reward Modeling for Pluralistic Alignment"). Plain
torch/transformers; no Django.

Every (prompt, response) becomes a point z = f(h) in a d-dimensional space: h is the base model's
last hidden state averaged over the tokens (the base stays frozen, so h is computed once), f a
learned linear map. K prototype ideal points p_1..p_K live in the same space, and each person u
has mixture weights w_u = softmax(theta_u) over them: their ideal point is a_u = sum_k w_uk p_k.
Their reward is closeness to it, r_u(x, y) = -||z(x, y) - a_u||^2, under the Bradley-Terry loss
-log sigmoid(r_u(x, chosen) - r_u(x, rejected)) over everyone's pairs.

The fit starts from K linear rewards found by hard EM over people (training/methods/common/mixture.py),
written into the map and the prototypes so that prototype k scores as reward k, each person's
weights their posterior over the K; `steps` of joint AdamW training may follow (by default none: on
real preferences they overfit the start, docs/training.md). Someone new is placed from a few of
their pairs by their posterior over the prototypes (`fit_user`); the map and the prototypes stay
as trained. `PalScorer.score(user, prompt, response)` scores for
a known person; `score_weights` for any mixture.
"""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.methods.common import distributed
from training.methods.common.contract import Hooks, RunInputs, RunResult, check_finite
from training.methods.common.population import (
    Featuriser,
    PopulationScorer,
    PrefPair,
    evaluate,
    format_text,
    load_checkpoint,
    population_summary,
    prepare,
    save_checkpoint,
    standardiser,
)

TARGET_KINDS = ("preference_population",)
REQUIRED_FILES = ("preferences.jsonl", "users.jsonl")
DATA_PARALLEL = True  # trains in several processes under torchrun (training/methods/common/distributed.py)
MIN_PEOPLE = 2  # a prototype mixture is learnt across people
RETIRED_SETTINGS = ("adaptation_steps",)  # no longer read; runs queued with them still start


@dataclass
class Config:
    prototypes: int = field(default=2, metadata={
        "help": "K: prototype ideal points people mix. Prototypes beyond the groups a population holds fit "
                "people's noise (docs/training.md); raise it where more groups are expected.", "min": 1, "max": 64})
    dim: int = field(default=32, metadata={"help": "Dimensions of the space where responses and ideals meet.",
                                           "min": 1, "max": 4096})
    steps: int = field(default=0, metadata={
        "help": "Optimizer steps over everyone's pairs after the start. 0 keeps the hard-EM start as it is (on real "
                "preferences more steps overfit it: docs/training.md); a random start (em_restarts 0) needs some.",
        "min": 0})
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
    save_steps: int = field(default=500, metadata={"help": "Checkpoint every this many steps.", "min": 1})
    logging_steps: int = field(default=50, metadata={"help": "Report loss every this many steps.", "min": 1})
    em_restarts: int = field(default=5, metadata={
        "help": "Random starts of the hard-EM fit of K linear rewards that training starts from (0: random weights).",
        "min": 0, "max": 100})
    em_l2: float = field(default=10.0, metadata={
        "help": "L2 penalty on each linear reward of the hard-EM start (on the mean loss).", "min": 0.0, "max": 1000.0})
    seed: int = field(default=0, metadata={"help": "Seeds the splits, initial weights and batches.", "min": 0})

    @classmethod
    def tiny(cls) -> Config:
        """Trains on the 2-layer test Llama's features on CPU in seconds (see training/methods/toys.py)."""
        return cls(prototypes=2, dim=8, steps=400, batch_size=64, learning_rate=0.05, max_length=64,
                   save_steps=100, logging_steps=25)


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
`user_logits`. Someone new is placed from a few of their labelled pairs: their weights are the
posterior over the prototypes, with the population's average weights as the prior.

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

OOM_HINT = ("Lower feature_batch_size or max_length (the frozen base model reads responses in batches), "
            "or use a smaller base model.")


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

        def forward(self, chosen: Any, rejected: Any, who: Any) -> Any:
            """chosen, rejected (N, H), who (N,) rows of user_logits -> margins (N,). Training goes
            through forward, so that DistributedDataParallel averages the gradients."""
            weights = torch.softmax(self.user_logits[who], -1)  # (N, K)
            return self.reward(chosen, weights) - self.reward(rejected, weights)

    return PalHead()


def _bt_margins(head: Any, chosen: Any, rejected: Any, weights: Any) -> Any:
    """(N,) reward margins of chosen over rejected (N, H) for one person's weights (K,)."""
    weights = weights.expand(len(chosen), -1)
    return head.reward(chosen, weights) - head.reward(rejected, weights)


def _bt(margin: Any) -> tuple[Any, Any]:
    """The Bradley-Terry loss and the share of pairs ranked right, from margins (N,)."""
    import torch

    return -torch.nn.functional.logsigmoid(margin).mean(), (margin > 0).float().mean()


@dataclass
class Trained:
    head: Any
    users: list[str]  # row i of head.user_logits
    mean: Any  # (H,)
    std: Any  # (H,)


def fit_population(features: Any, index: Mapping[str, int], pairs: Sequence[PrefPair], *, config: Config,
                   checkpoints: Path | None = None, hooks: Hooks | None = None) -> Trained:
    """Trains map, prototypes and every person's weights on `pairs`; resumes from `checkpoints`. Under
    torchrun every process draws the same global batch and trains on its share (DDP); the writer alone
    saves checkpoints."""
    import torch

    users = sorted({p.user for p in pairs})
    row = {u: i for i, u in enumerate(users)}
    mean, std = standardiser(features)
    x = (features - mean) / std  # (N, H)
    chosen = torch.tensor([index[format_text(p.prompt, p.chosen)] for p in pairs])
    rejected = torch.tensor([index[format_text(p.prompt, p.rejected)] for p in pairs])
    who = torch.tensor([row[p.user] for p in pairs])
    torch.manual_seed(config.seed)
    head = _new_head(x.shape[1], config, len(users))
    state = load_checkpoint(checkpoints, hooks) if checkpoints else None
    from_mixture = config.em_restarts > 0 and config.dim >= config.prototypes
    if not from_mixture and not config.steps:
        raise ValueError(f"PAL starts from random weights here (em_restarts {config.em_restarts}, dim {config.dim}, "
                         f"prototypes {config.prototypes}) and steps is 0, so nothing would train: set steps, or "
                         "em_restarts >= 1 with dim >= prototypes to start from the hard-EM mixture")
    if not state and from_mixture:
        _start_from_mixture(head, x, chosen, rejected, who, config, hooks)
    optimiser = torch.optim.AdamW(head.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    step = 0
    if state:
        head.load_state_dict(state["head"])
        optimiser.load_state_dict(state["optimiser"])
        step = state["step"]
    model = distributed.wrap(head)
    generator = torch.Generator().manual_seed(config.seed + step)
    while step < config.steps:
        batch = torch.randint(len(pairs), (min(config.batch_size, len(pairs)),), generator=generator)  # (B,)
        mine = distributed.my_share(batch)  # (B / processes,)
        loss, accuracy = _bt(model(x[chosen[mine]], x[rejected[mine]], who[mine]))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % config.logging_steps == 0 or step % config.save_steps == 0 or step == config.steps:
            check_finite(loss.detach(), step=step, learning_rate=config.learning_rate)
        if hooks:
            hooks.progress(0.3 + 0.6 * step / config.steps, stage="training")
            if step % config.logging_steps == 0 or step == config.steps:
                hooks.metrics(step, distributed.mean_across({"loss": float(loss.detach()),
                                                             "accuracy": float(accuracy)}))
            hooks.check_cancelled()
        if checkpoints and (step % config.save_steps == 0 or step == config.steps) and distributed.is_writer():
            save_checkpoint(checkpoints, step, {"head": head.state_dict(), "optimiser": optimiser.state_dict()})
            if hooks:
                hooks.log(f"checkpoint saved at step {step}")
    return Trained(head.eval(), users, mean, std)


def _start_from_mixture(head: Any, x: Any, chosen: Any, rejected: Any, who: Any, config: Config,
                        hooks: Hooks | None) -> None:
    """Sets the head to the hard-EM mixture of K linear rewards w_k (training/methods/common/mixture.py):
    the map's first K rows become eps * w_k (the rest 0) and prototype k becomes e_k / (2 eps), so that
    -||map(x) - p_k||^2 = w_k . x - eps^2 ||W x||^2 + a constant; with eps = 0.1 / sqrt(s), s the
    largest ||W x|| of any text, the second term stays under 1% of s. Each person's weights start at
    their posterior over the K rewards, the clusters' sizes as the prior. The start's loss and
    accuracy on the training pairs are reported as step 0."""
    import torch

    from training.methods.common.mixture import hard_em, log_likelihoods

    if hooks:
        hooks.progress(0.3, stage="fitting the mixture to start from")
    people, k = head.user_logits.shape
    diff = x[chosen] - x[rejected]  # (P, H)
    mixture = hard_em(diff, who, people, heads=k, l2=config.em_l2, seed=config.seed, restarts=config.em_restarts)
    largest = float((x @ mixture.heads.T).norm(dim=1).max())
    eps = 0.1 / max(largest, 1e-6) ** 0.5
    sizes = torch.bincount(mixture.cluster, minlength=k)  # (K,)
    with torch.no_grad():
        head.map.weight.zero_()
        head.map.bias.zero_()
        head.map.weight[:k] = eps * mixture.heads
        head.prototypes.copy_(torch.eye(k, head.prototypes.shape[1]) / (2 * eps))
        head.user_logits.copy_(((sizes + 1) / (people + k)).log() + log_likelihoods(mixture.heads, diff, who, people))
        loss, accuracy = _bt(head(x[chosen], x[rejected], who))
    if hooks:
        hooks.metrics(0, {"loss": float(loss), "accuracy": float(accuracy)})
        hooks.log(f"started from {k} linear rewards found by hard EM; people per reward {sizes.tolist()}, "
                  f"training accuracy {float(accuracy):.3f}")


# --- scoring and fitting someone new ----------------------------------------------------------


class PalScorer(PopulationScorer):
    """A trained PAL model in memory or loaded from its folder."""

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
        self.featuriser.save(folder)

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

        x = self.cache.standardised([format_text(p, r) for p, r in items])
        w = torch.tensor([list(weights)] * len(items), dtype=torch.float32)
        with torch.no_grad():
            return self.trained.head.reward(x, w).tolist()

    def fit_user(self, pairs: Sequence[tuple[str, str, str]]) -> list[float]:
        """Mixture weights for someone new from their (prompt, chosen, rejected) pairs: the posterior
        over the K prototypes, the population's average weights as the prior. A pair's margin is
        linear in the weights (the ideal point's own square cancels), so these weights score a
        response as the posterior's average of the prototypes' rewards. With no pairs someone new
        gets the population's mix; each pair moves them towards the prototypes that explain it."""
        import torch

        head = self.trained.head
        with torch.no_grad():
            prior = torch.softmax(head.user_logits, -1).mean(0)  # (K,)
            if not pairs:
                return prior.tolist()
            chosen, rejected = self.cache.pairs(pairs)
            log_likelihood = torch.stack([
                torch.nn.functional.logsigmoid(_bt_margins(head, chosen, rejected, one_hot)).sum()
                for one_hot in torch.eye(len(prior))])  # (K,)
            return torch.softmax(prior.log() + log_likelihood, -1).tolist()


# --- the run ----------------------------------------------------------------------------------


def train(inputs: RunInputs, config: Config, hooks: Hooks) -> RunResult:
    """Features once (kept in work_dir), then the population fit (checkpointed), then evaluation:
    seen people on their held-out pairs, and new people fitted from their first few pairs."""
    import torch

    prepared = prepare(inputs, config, hooks, method="PAL")
    trained = fit_population(prepared.features, {t: i for i, t in enumerate(prepared.texts)}, prepared.split.train,
                             config=config, checkpoints=inputs.work_dir / "checkpoints", hooks=hooks)
    if not distributed.is_writer():
        return RunResult(metrics={})  # the writer evaluates and saves the model
    scorer = PalScorer(trained, prepared.featuriser)
    scorer.remember(prepared.texts, prepared.features)

    hooks.progress(0.92, stage="evaluating")
    metrics = evaluate(
        scorer, prepared, own=scorer.weights_of,
        average=torch.tensor([scorer.weights_of(u) for u in prepared.seen]).mean(0).tolist(),
        average_key="eval_accuracy_population_weights", adaptation_pairs=config.adaptation_pairs,
        place=lambda first: scorer.fit_user([(p.prompt, p.chosen, p.rejected) for p in first]))
    scorer.save(inputs.output_dir, max_length=config.max_length)
    dominant = torch.softmax(trained.head.user_logits.detach(), -1).argmax(-1)  # (U,)
    summary = {**population_summary(prepared),
               "people_per_prototype": torch.bincount(dominant, minlength=config.prototypes).tolist()}
    return RunResult(metrics=metrics, summary=summary)
