"""PG-Follow, PG-Predict and PG-Coevolve on cases worked out by hand (training/progress/scores.py)."""
from __future__ import annotations

import math

import numpy as np
import pytest

from training.progress.scores import coevolve_trajectory, cosine, pg_coevolve, pg_follow, pg_predict, scores

R = 1 / math.sqrt(2)
ACTUAL = [[1, 0], [0, 1], [1, 1]]
TRACKER = [[0, 1], [1, 1], [1, 0]]


def test_cosine_is_one_minus_the_cosine_distance_and_skips_missing_dimensions():
    assert cosine([1, 0], [1, 1]) == pytest.approx(R)
    assert cosine([2, 0], [-3, 0]) == pytest.approx(-1)
    assert cosine([1, math.nan, 0], [1, 5, 1]) == pytest.approx(R)  # the NaN dimension left out of both
    assert math.isnan(cosine([0, 0], [1, 1]))


def test_follow_averages_each_steps_cosine_to_the_same_step():
    # cos([0,1],[1,0]) = 0, cos([1,1],[0,1]) = 1/sqrt2, cos([1,0],[1,1]) = 1/sqrt2
    assert pg_follow(TRACKER, ACTUAL) == pytest.approx((0 + R + R) / 3)


def test_predict_compares_each_step_to_the_one_ahead_while_there_is_one():
    # step 0 against step 1: cos([0,1],[0,1]) = 1; step 1 against step 2: cos([1,1],[1,1]) = 1
    assert pg_predict(TRACKER, ACTUAL, ahead=1) == pytest.approx(1.0)
    # step 0 against step 2 only: cos([0,1],[1,1])
    assert pg_predict(TRACKER, ACTUAL, ahead=2) == pytest.approx(R)
    with pytest.raises(ValueError):
        pg_predict(TRACKER, ACTUAL, ahead=3)


def test_coevolve_moves_the_simulation_to_the_population_then_to_the_tracker():
    actual = [[1, 0], [1, 1], [0, 1]]
    tracker = [[0, 1]] * 3
    # rate 0.5: one epoch towards the step's population goes half way, two towards the tracker 3/4.
    # start [1,0] -> [1,0] -> [.25,.75]; -> [.625,.875] -> [.15625,.96875]; -> [.078125,.984375] -> [.01953125,.99609375]
    trajectory = coevolve_trajectory(tracker, actual, rate=0.5)
    np.testing.assert_allclose(trajectory, [[1, 0], [.25, .75], [.15625, .96875], [.01953125, .99609375]])
    # Each simulated vector s, each actual step i: the best cosine to actual[i:], then the mean of all 12.
    best = []
    for s in trajectory:
        sims = [float(np.dot(s, a) / np.linalg.norm(s) / np.linalg.norm(a)) for a in actual]
        best += [max(sims[0:]), max(sims[1:]), sims[2]]
    assert best[:3] == pytest.approx([1, R, 0])  # the start: cosines 1, 1/sqrt2, 0
    assert best[3:6] == pytest.approx([3 / math.sqrt(10)] * 3)  # [.25,.75] is closest to [0,1]: 0.75/sqrt(0.625)
    assert pg_coevolve(tracker, actual, rate=0.5) == pytest.approx(sum(best) / 12) == pytest.approx(0.876191958)


def test_a_tracker_that_leads_the_population_where_it_goes_coevolves_better_than_one_that_holds_it_back():
    actual = [[1, 0], [1, 1], [0, 1]]
    assert pg_coevolve([[0, 1]] * 3, actual) > pg_coevolve([[1, 0]] * 3, actual)


def test_scores_leave_out_what_the_steps_cannot_give():
    assert set(scores([[1, 0]], [[1, 0]])) == {"pg_follow"}
    assert set(scores(TRACKER, ACTUAL)) == {"pg_follow", "pg_predict", "pg_coevolve"}
    with pytest.raises(ValueError):
        pg_follow([[1, 0]], [[1, 0], [0, 1]])
