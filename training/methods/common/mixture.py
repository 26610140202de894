"""A mixture of linear Bradley-Terry rewards over people, found without labels by hard EM: people
are split at random into K clusters, then in turn one reward is fitted per cluster (full batch,
L-BFGS, an L2 penalty) and everyone moves to the reward under which their pairs are likeliest, until
nobody moves; of several random starts the likeliest is kept. PAL starts from it
(training/methods/pal.py) and the real-data bench uses it (bench/population_real.py). Plain torch;
no Django.

Every function reads pairs as `diff`, the chosen response's standardised features minus the
rejected one's (P, D), and `who`, each pair's person as a row number (P,).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def fit_linear(diff: Any, *, l2: float) -> Any:
    """w (D,) minimising the mean Bradley-Terry loss -log sigmoid(diff . w) plus l2 ||w||^2."""
    import torch

    weight = torch.zeros(diff.shape[1], dtype=diff.dtype, requires_grad=True)
    optimiser = torch.optim.LBFGS([weight], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> Any:
        optimiser.zero_grad()
        loss = -torch.nn.functional.logsigmoid(diff @ weight).mean() + l2 * (weight**2).sum()
        loss.backward()
        return loss

    if len(diff):
        optimiser.step(closure)
    return weight.detach()


def log_likelihoods(heads: Any, diff: Any, who: Any, people: int) -> Any:
    """(U, K): each person's pairs' summed Bradley-Terry log-likelihood under each head (K, D)."""
    import torch

    per_pair = torch.nn.functional.logsigmoid(diff @ heads.T)  # (P, K)
    return torch.zeros(people, heads.shape[0], dtype=per_pair.dtype).index_add_(0, who, per_pair)


@dataclass(frozen=True)
class Mixture:
    heads: Any  # (K, D)
    cluster: Any  # (U,) each person's head
    log_likelihood: float  # of everyone's pairs, each person under their own head


def hard_em(diff: Any, who: Any, people: int, *, heads: int, l2: float, seed: int, restarts: int = 5,
            rounds: int = 10) -> Mixture:
    """The likeliest of `restarts` hard-EM fits of `heads` linear rewards (see the module's
    docstring). A cluster that empties keeps the reward it last had, so nobody is forced into it."""
    import torch

    generator = torch.Generator().manual_seed(seed)
    best: Mixture | None = None
    for _ in range(restarts):
        cluster = torch.randint(heads, (people,), generator=generator)
        weights = torch.zeros(heads, diff.shape[1], dtype=diff.dtype)
        for _ in range(rounds + 1):
            for k in range(heads):
                mine = cluster[who] == k
                if mine.any():
                    weights[k] = fit_linear(diff[mine], l2=l2)
            moved = log_likelihoods(weights, diff, who, people).argmax(1)
            if torch.equal(moved, cluster):
                break
            cluster = moved
        fit = float(log_likelihoods(weights, diff, who, people).gather(1, cluster[:, None]).sum())
        if best is None or fit > best.log_likelihood:
            best = Mixture(weights, cluster, fit)
    assert best is not None, "hard_em needs at least one restart"
    return best
