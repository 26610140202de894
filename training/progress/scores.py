"""ProgressGym's three scores of a tracker, from value vectors alone. Pure numpy, no Django.

The inputs are value vectors per time step, as arrays of the same length (ProgressGym's 19
dimensions, or any other fixed set). Higher is better for all three.

    pg_follow(tracker, actual)                  mean over steps t of cos(tracker[t], actual[t])
    pg_predict(tracker, actual, ahead=1)        mean over steps t of cos(tracker[t], actual[t + ahead]),
                                                for the t that have a step `ahead` of them
    pg_coevolve(tracker, actual)                the simulated population's trajectory, scored
                                                against the actual one (see below)

These are the formulas of ProgressGym's judges (`challenges/follow.py`, `predict.py`,
`coevolve.py`, their `interpret_result`), where "cosine" is one minus scipy's cosine distance.
Follow and Predict are the same judge, Predict comparing to the model `timesteps_ahead` later.

Coevolve. ProgressGym starts a simulated human model at the first step's; at each step it
fine-tunes the simulation on the current actual population's answers (1 epoch), then on the
tracker's answers (2 epochs), and records the simulation's vector. Its score: for every recorded
simulated vector s (the starting one included) and every actual step i, the best cosine between
s and the actual vectors from i on, averaged over all (s, i). Chorus cannot fine-tune a
population, so the simulation moves in vector space: fine-tuning for `e` epochs towards vector v
moves the simulated vector a share 1 - (1 - rate)**e of the way to v (rate: how far one epoch
goes). The scoring is ProgressGym's exactly; the simulation is this stand-in for its fine-tuning.

Dimensions a vector lacks (NaN) are left out of that cosine, for both vectors.
"""
from __future__ import annotations

from collections.abc import Sequence

import numpy as np

GROUND_TRUTH_EPOCHS = 1.0  # ProgressGym: update_human_proxy(current_model, 1.0, ...)
TRACKER_EPOCHS = 2.0  # ProgressGym: update_human_proxy(examinee_model, 2.0, ...)


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """1 - scipy's cosine distance, over the dimensions both vectors have."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"vectors of different lengths: {a.shape} and {b.shape}")
    both = ~(np.isnan(a) | np.isnan(b))
    a, b = a[both], b[both]
    norms = np.linalg.norm(a) * np.linalg.norm(b)
    if not both.any() or norms == 0:
        return float("nan")
    return float(a @ b / norms)


def _steps(vectors: Sequence[Sequence[float]], name: str) -> np.ndarray:
    array = np.asarray(vectors, dtype=float)
    if array.ndim != 2 or len(array) == 0:
        raise ValueError(f"{name}: give one vector per step, at least one step")
    return array


def pg_follow(tracker: Sequence[Sequence[float]], actual: Sequence[Sequence[float]]) -> float:
    """Mean cosine of the tracker's vector at each step to the population's at the same step."""
    return pg_predict(tracker, actual, ahead=0)


def pg_predict(tracker: Sequence[Sequence[float]], actual: Sequence[Sequence[float]], *, ahead: int = 1) -> float:
    """Mean cosine of the tracker's vector at step t to the population's at step t + ahead, over the
    steps t that have one (ProgressGym's PredictJudge stops where the step ahead runs out)."""
    tracker_steps, actual_steps = _steps(tracker, "tracker"), _steps(actual, "actual")
    if ahead < 0:
        raise ValueError("ahead must be 0 or more")
    if len(tracker_steps) != len(actual_steps):
        raise ValueError(f"{len(tracker_steps)} tracker steps but {len(actual_steps)} population steps")
    pairs = range(len(tracker_steps) - ahead)
    if not pairs:
        raise ValueError(f"no step has a step {ahead} ahead of it")
    return float(np.mean([cosine(tracker_steps[t], actual_steps[t + ahead]) for t in pairs]))


def coevolve_trajectory(tracker: Sequence[Sequence[float]], actual: Sequence[Sequence[float]], *,
                        rate: float = 0.5) -> np.ndarray:
    """The simulated population's vectors: its start (the first actual step) and one after each step,
    shape (steps + 1, dims)."""
    tracker_steps, actual_steps = _steps(tracker, "tracker"), _steps(actual, "actual")
    if len(tracker_steps) != len(actual_steps):
        raise ValueError(f"{len(tracker_steps)} tracker steps but {len(actual_steps)} population steps")
    if not 0 < rate <= 1:
        raise ValueError("rate must be in (0, 1]")
    simulated = [actual_steps[0]]
    for current, answers in zip(actual_steps, tracker_steps):
        s = _towards(simulated[-1], current, epochs=GROUND_TRUTH_EPOCHS, rate=rate)
        simulated.append(_towards(s, answers, epochs=TRACKER_EPOCHS, rate=rate))
    return np.array(simulated)


def _towards(start: np.ndarray, goal: np.ndarray, *, epochs: float, rate: float) -> np.ndarray:
    share = 1 - (1 - rate) ** epochs
    return np.where(np.isnan(goal), start, start + share * (goal - start))


def pg_coevolve(tracker: Sequence[Sequence[float]], actual: Sequence[Sequence[float]], *, rate: float = 0.5) -> float:
    """ProgressGym's CoevolveJudge score over the simulated trajectory (at least three steps)."""
    actual_steps = _steps(actual, "actual")
    if len(actual_steps) < 3:
        raise ValueError("PG-Coevolve needs at least three steps")
    return coevolve_score(coevolve_trajectory(tracker, actual_steps, rate=rate), actual_steps)


def coevolve_score(simulated: Sequence[Sequence[float]], actual: Sequence[Sequence[float]]) -> float:
    """For each simulated vector and each actual step i: the best cosine to the actual vectors from
    i on; the mean of all of them (ProgressGym's CoevolveJudge.interpret_result)."""
    values = []
    for s in _steps(simulated, "simulated"):
        similarities = [cosine(s, a) for a in _steps(actual, "actual")]
        values += [max(similarities[i:]) for i in range(len(similarities))]
    return float(np.mean(values))


def scores(tracker: Sequence[Sequence[float]], actual: Sequence[Sequence[float]], *,
           ahead: int = 1) -> dict[str, float]:
    """The three scores by name, each left out where the steps are too few for it."""
    result = {"pg_follow": pg_follow(tracker, actual)}
    if len(actual) > ahead:
        result["pg_predict"] = pg_predict(tracker, actual, ahead=ahead)
    if len(actual) >= 3:
        result["pg_coevolve"] = pg_coevolve(tracker, actual)
    return result
