"""VPL: a reward model conditioned on a latent for each person, inferred from their labelled pairs
(after Poddar et al. 2024, "Personalizing Reinforcement Learning from Human Feedback with
Variational Preference Learning"). Plain torch/transformers; no Django.

Every (prompt, response) is read once by the frozen base model (its last hidden state averaged
over the tokens) and embedded by a learned linear map, e. An encoder reads a set of one person's
labelled pairs, each as [e(chosen), e(rejected)] through a small MLP, averages them and gives a
Gaussian q(z | pairs) = N(mu, sigma^2). The reward r(prompt, response, z) is an MLP over [e, z].
Training samples, for a batch of people, a context of their pairs for the encoder and other pairs
of theirs to predict, and minimises the Bradley-Terry loss of the predicted pairs under a sampled
z plus beta * KL(q || N(0, I)).

Someone new needs no training: the encoder reads a few of their pairs and its mean is their
latent (`VplScorer.infer`). `VplScorer.score(user, prompt, response)` scores for a person seen in
training, `score_latent` for any latent.
"""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from training.methods.common import distributed
from training.methods.common.contract import Hooks, RunInputs, RunResult, check_finite
from training.methods.common.population import (
    Featuriser,
    PopulationScorer,
    PrefPair,
    by_user,
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
MIN_PEOPLE = 2  # the latent is learnt across people


@dataclass
class Config:
    latent_dim: int = field(default=8, metadata={"help": "Size of the latent z that stands for a person's preferences.",
                                                 "min": 1, "max": 1024})
    hidden_dim: int = field(default=64, metadata={"help": "Width of the embedding, encoder and reward layers.",
                                                  "min": 2, "max": 8192})
    context_pairs: int = field(default=8, metadata={
        "help": "Pairs of one person the encoder reads per training example.", "min": 1, "max": 256})
    target_pairs: int = field(default=8, metadata={
        "help": "Other pairs of the same person the reward is trained to predict per example.", "min": 1, "max": 256})
    beta: float = field(default=0.01, metadata={"help": "Weight of KL(q(z | pairs) || N(0, I)) in the loss.",
                                                "min": 0.0, "max": 100.0})
    steps: int = field(default=2000, metadata={"help": "Optimizer steps.", "min": 1})
    users_per_batch: int = field(default=32, metadata={"help": "People per step, each with a context and targets.",
                                                       "min": 1, "max": 4096})
    learning_rate: float = field(default=1e-3, metadata={"help": "AdamW learning rate.", "min": 1e-6, "max": 1.0})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay.", "min": 0.0, "max": 10.0})
    max_length: int = field(default=512, metadata={"help": "Most tokens of prompt + response read by the base model.",
                                                   "min": 8})
    feature_batch_size: int = field(default=32, metadata={"help": "Texts per forward pass of the base model.",
                                                          "min": 1, "max": 1024})
    eval_fraction: float = field(default=0.2, metadata={"help": "Share of each person's pairs held out.",
                                                        "min": 0.0, "max": 0.5})
    new_user_fraction: float = field(default=0.2, metadata={
        "help": "Share of people held out entirely, to measure inferring someone new from a few pairs.",
        "min": 0.0, "max": 0.5})
    adaptation_pairs: int = field(default=4, metadata={"help": "Pairs a new person's latent is inferred from.",
                                                       "min": 1, "max": 1000})
    save_steps: int = field(default=500, metadata={"help": "Checkpoint every this many steps.", "min": 1})
    logging_steps: int = field(default=50, metadata={"help": "Report loss every this many steps.", "min": 1})
    seed: int = field(default=0, metadata={"help": "Seeds the splits, initial weights and batches.", "min": 0})

    @classmethod
    def tiny(cls) -> Config:
        """Trains on the 2-layer test Llama's features on CPU in seconds (see training/methods/toys.py)."""
        return cls(latent_dim=4, hidden_dim=32, context_pairs=4, target_pairs=4, steps=400, users_per_batch=16,
                   learning_rate=0.01, max_length=64, save_steps=100, logging_steps=25)


MODEL_CARD = """\
A VPL personalised reward model: the base model (frozen, saved here) reads one text per response,

```text
Prompt: <prompt>
Response: <response>
```

and its last hidden state, averaged over the tokens, is embedded by a learned map. An encoder turns
a handful of one person's labelled pairs into a latent z (the mean of a Gaussian); the reward of a
response for that person is a small network over the embedding and z (`vpl.safetensors`, sizes in
`vpl.json`, which also lists the pseudonymous people seen in training, in the order of their
stored latents `user_latents`). Load it with the `VplScorer` class of Chorus'
`training/methods/vpl.py`. Someone new is scored after the encoder reads a few of their pairs; no
training is needed.

**Intended use**: ranking responses for a person or group from a few of their stated preferences;
studying how preferences spread across a population (the latents). **Limits**: it only knows the
prompts and kinds of response in its target; a latent inferred from a handful of pairs is
uncertain; rewards compare responses for one latent and prompt, not across people.
"""

USAGE = """\
from training.methods.vpl import VplScorer  # from a Chorus checkout (the repository root on sys.path)

scorer = VplScorer.load(path)
person = scorer.users[0]  # pseudonyms, as in vpl.json
print(scorer.score(person, "How do I make tea?", "Boil water, then steep."))
"""

OOM_HINT = ("Lower feature_batch_size or max_length (the frozen base model reads responses in batches), "
            "or use a smaller base model.")


# --- the model ---------------------------------------------------------------------------------


def _new_model(hidden: int, config: Config) -> Any:
    import torch
    from torch import nn

    width, latent = config.hidden_dim, config.latent_dim

    class VplModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Linear(hidden, width)
            self.pair = nn.Sequential(nn.Linear(2 * width, width), nn.GELU(), nn.Linear(width, width))
            self.posterior = nn.Linear(width, 2 * latent)
            self.head = nn.Sequential(nn.Linear(width + latent, width), nn.GELU(), nn.Linear(width, 1))

        def encode(self, chosen: Any, rejected: Any, mask: Any = None) -> tuple[Any, Any]:
            """chosen, rejected (B, C, H): B people's C labelled pairs, of which `mask` (B, C) says
            which count (all when None) -> mu, logvar (B, L)."""
            pairs = self.pair(torch.cat([self.embed(chosen), self.embed(rejected)], -1))  # (B, C, W)
            if mask is None:
                return self.posterior(pairs.mean(1)).chunk(2, -1)
            weights = mask.float().unsqueeze(-1)  # (B, C, 1)
            return self.posterior((pairs * weights).sum(1) / weights.sum(1).clamp_min(1)).chunk(2, -1)

        def reward(self, features: Any, z: Any) -> Any:
            """features (N, H), z (N, L) -> rewards (N,)."""
            return self.head(torch.cat([self.embed(features), z], -1)).squeeze(-1)

        def forward(self, context: tuple[Any, Any, Any], target: tuple[Any, Any, Any], noise: Any) -> tuple[Any, Any, Any]:
            """One batch of B people: context (chosen, rejected (B, C, H), mask (B, C)) read by the
            encoder, target (chosen, rejected (B, T, H), mask (B, T)) predicted, noise (B, L)
            -> (Bradley-Terry loss, accuracy, KL). Training goes through forward, so that
            DistributedDataParallel averages the gradients."""
            mu, logvar = self.encode(*context)  # (B, L)
            z = mu + torch.exp(0.5 * logvar) * noise
            chosen, rejected, mask = target
            z_each = z.repeat_interleave(chosen.shape[1], 0)  # (B * T, L)
            bt, accuracy = _bt(self, chosen.flatten(0, 1), rejected.flatten(0, 1), z_each, mask.flatten())
            kl = 0.5 * (mu**2 + logvar.exp() - logvar - 1).sum(-1).mean()
            return bt, accuracy, kl

    return VplModel()


def _bt(model: Any, chosen: Any, rejected: Any, z: Any, mask: Any = None) -> tuple[Any, Any]:
    """Bradley-Terry loss and accuracy of pairs (N, H) under latents (N, L), over the pairs `mask`
    (N,) keeps (all when None)."""
    import torch

    margin = model.reward(chosen, z) - model.reward(rejected, z)
    keep = torch.ones_like(margin) if mask is None else mask.float()
    n = keep.sum().clamp_min(1)
    return -(torch.nn.functional.logsigmoid(margin) * keep).sum() / n, ((margin > 0).float() * keep).sum() / n


def draw_pairs(counts: Any, context_pairs: int, target_pairs: int, generator: Any) -> tuple[Any, Any, Any, Any]:
    """For B people with `counts` (B,) pairs each (2 or more), disjoint context and target pairs
    drawn without replacement: up to `context_pairs` to read (at most half of a person's pairs) and
    up to `target_pairs` of the others to predict. A target the encoder also read could be answered
    by copying its label, and people with few pairs would teach exactly that.
    -> context (B, C) and target (B, T) positions within each person's pairs, and their masks."""
    import torch

    width = max(int(counts.max()), context_pairs + target_pairs)
    keys = torch.rand(len(counts), width, generator=generator)
    keys[torch.arange(width)[None] >= counts[:, None]] = 2.0  # positions past a person's pairs sort last
    order = keys.argsort(1)  # (B, width): a random order of each person's own pairs first
    n_context = torch.clamp(torch.minimum(torch.full_like(counts, context_pairs), counts // 2), min=1)  # (B,)
    n_target = torch.minimum(torch.full_like(counts, target_pairs), counts - n_context)  # (B,), >= 1
    c_pos, t_pos = torch.arange(context_pairs)[None], torch.arange(target_pairs)[None]
    context = order[:, :context_pairs]  # (B, C)
    target = order.gather(1, (n_context[:, None] + t_pos).clamp_max(width - 1))  # (B, T)
    last = counts[:, None] - 1
    return context.clamp_max(last), c_pos < n_context[:, None], target.clamp_max(last), t_pos < n_target[:, None]


@dataclass
class Trained:
    model: Any
    users: list[str]  # row i of user_latents
    user_latents: Any  # (U, L): the encoder's mean over each person's training pairs
    mean: Any  # (H,)
    std: Any  # (H,)


def fit_population(features: Any, index: dict[str, int], pairs: Sequence[PrefPair], *, config: Config,
                   checkpoints: Path | None = None, hooks: Hooks | None = None) -> Trained:
    """Trains embedding, encoder and reward on `pairs`, people sampled per step; resumes from
    `checkpoints`."""
    import torch

    grouped = by_user(pairs)
    users = sorted(grouped)
    ordered = [p for u in users for p in grouped[u]]  # each person's pairs contiguous
    counts = torch.tensor([len(grouped[u]) for u in users])
    starts = torch.cumsum(counts, 0) - counts
    mean, std = standardiser(features)
    x = (features - mean) / std  # (N, H)
    chosen = torch.tensor([index[format_text(p.prompt, p.chosen)] for p in ordered])
    rejected = torch.tensor([index[format_text(p.prompt, p.rejected)] for p in ordered])
    torch.manual_seed(config.seed)
    model = _new_model(x.shape[1], config)
    optimiser = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    step = 0
    state = load_checkpoint(checkpoints, hooks) if checkpoints else None
    if state:
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        step = state["step"]
    generator = torch.Generator().manual_seed(config.seed + step)

    # Only people with two pairs or more can be trained on: one to read, another to predict.
    trainable = torch.nonzero(counts >= 2).squeeze(-1)
    if len(trainable) == 0:
        raise ValueError("VPL needs at least one person with 2 or more training pairs")

    parallel = distributed.wrap(model)
    while step < config.steps:
        # The global batch, drawn alike by every process; each trains on its share of the people.
        who = trainable[torch.randint(len(trainable), (config.users_per_batch,), generator=generator)]  # (B,)
        context, context_mask, target, target_mask = draw_pairs(counts[who], config.context_pairs,
                                                                config.target_pairs, generator)
        context, target = context + starts[who, None], target + starts[who, None]  # rows of `ordered`
        noise = torch.randn((len(who), config.latent_dim), generator=generator)  # (B, L)
        mine = distributed.my_share(torch.arange(len(who)))
        bt, accuracy, kl = parallel((x[chosen[context[mine]]], x[rejected[context[mine]]], context_mask[mine]),
                                    (x[chosen[target[mine]]], x[rejected[target[mine]]], target_mask[mine]),
                                    noise[mine])
        loss = bt + config.beta * kl
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        step += 1
        if step % config.logging_steps == 0 or step % config.save_steps == 0 or step == config.steps:
            check_finite(loss.detach(), step=step, learning_rate=config.learning_rate)
        if hooks:
            hooks.progress(0.3 + 0.6 * step / config.steps, stage="training")
            if step % config.logging_steps == 0 or step == config.steps:
                hooks.metrics(step, distributed.mean_across({"loss": float(loss.detach()), "kl": float(kl.detach()),
                                                             "accuracy": float(accuracy)}))
            hooks.check_cancelled()
        if checkpoints and (step % config.save_steps == 0 or step == config.steps) and distributed.is_writer():
            save_checkpoint(checkpoints, step, {"model": model.state_dict(), "optimiser": optimiser.state_dict()})
            if hooks:
                hooks.log(f"checkpoint saved at step {step}")
    model.eval()
    with torch.no_grad():
        latents = torch.cat([model.encode(x[chosen[s : s + n]][None], x[rejected[s : s + n]][None])[0]
                             for s, n in zip(starts.tolist(), counts.tolist())])  # (U, L)
    return Trained(model, users, latents, mean, std)


# --- scoring and inferring someone new -------------------------------------------------------


class VplScorer(PopulationScorer):
    """A trained VPL model in memory or loaded from its folder."""

    @classmethod
    def load(cls, path: str | Path, *, device: str = "cpu") -> VplScorer:
        from safetensors.torch import load_file

        meta = json.loads((Path(path) / "vpl.json").read_text())
        tensors = load_file(Path(path) / "vpl.safetensors")
        model = _new_model(meta["hidden"], Config(latent_dim=meta["latent_dim"], hidden_dim=meta["hidden_dim"]))
        model.load_state_dict({k: v for k, v in tensors.items() if k not in ("mean", "std", "user_latents")})
        trained = Trained(model.eval(), list(meta["users"]), tensors["user_latents"], tensors["mean"], tensors["std"])
        return cls(trained, Featuriser(str(path), device=device, bf16=False, max_length=meta["max_length"]))

    def save(self, folder: Path, *, config: Config) -> None:
        from safetensors.torch import save_file

        t = self.trained
        tensors = {k: v.detach().contiguous() for k, v in t.model.state_dict().items()}
        save_file({**tensors, "mean": t.mean.contiguous(), "std": t.std.contiguous(),
                   "user_latents": t.user_latents.contiguous()}, folder / "vpl.safetensors")
        (folder / "vpl.json").write_text(json.dumps({
            "latent_dim": config.latent_dim, "hidden_dim": config.hidden_dim, "hidden": t.model.embed.in_features,
            "max_length": config.max_length, "input_format": format_text("<prompt>", "<response>"), "users": t.users,
        }, indent=2))
        self.featuriser.save(folder)

    def latent_of(self, user: str) -> list[float]:
        return self.trained.user_latents[self.trained.users.index(user)].tolist()

    def infer(self, pairs: Sequence[tuple[str, str, str]]) -> list[float]:
        """The latent of someone from their (prompt, chosen, rejected) pairs: the encoder's mean."""
        import torch

        chosen, rejected = self.cache.pairs(pairs)
        with torch.no_grad():
            return self.trained.model.encode(chosen[None], rejected[None])[0][0].tolist()

    def score(self, user: str, prompt: str, response: str) -> float:
        return self.score_latent(self.latent_of(user), prompt, response)

    def score_latent(self, z: Sequence[float], prompt: str, response: str) -> float:
        return self.rewards(z, [(prompt, response)])[0]

    def rewards(self, z: Sequence[float], items: Sequence[tuple[str, str]]) -> list[float]:
        import torch

        x = self.cache.standardised([format_text(p, r) for p, r in items])
        with torch.no_grad():
            return self.trained.model.reward(x, torch.tensor([list(z)] * len(items), dtype=torch.float32)).tolist()


# --- the run ----------------------------------------------------------------------------------


def train(inputs: RunInputs, config: Config, hooks: Hooks) -> RunResult:
    """Features once (kept in work_dir), then training (checkpointed), then evaluation: seen people
    on their held-out pairs, and new people inferred from their first few pairs."""
    prepared = prepare(inputs, config, hooks, method="VPL")
    trained = fit_population(prepared.features, {t: i for i, t in enumerate(prepared.texts)}, prepared.split.train,
                             config=config, checkpoints=inputs.work_dir / "checkpoints", hooks=hooks)
    if not distributed.is_writer():
        return RunResult(metrics={})  # the writer evaluates and saves the model
    scorer = VplScorer(trained, prepared.featuriser)
    scorer.remember(prepared.texts, prepared.features)

    hooks.progress(0.92, stage="evaluating")
    metrics = evaluate(scorer, prepared, own=scorer.latent_of, average=trained.user_latents.mean(0).tolist(),
                       average_key="eval_accuracy_average_latent", adaptation_pairs=config.adaptation_pairs,
                       place=lambda first: scorer.infer([(p.prompt, p.chosen, p.rejected) for p in first]))
    scorer.save(inputs.output_dir, config=config)
    spread = float(trained.user_latents.std(0).mean())  # near 0 when the latent carries nothing
    return RunResult(metrics=metrics, summary={**population_summary(prepared), "latent_spread": round(spread, 4)})
