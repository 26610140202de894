"""ProgressGym's finite-difference extrapolation of pair preferences, on hand-worked sequences."""
from __future__ import annotations

import pytest

from training.progress.extrapolate import coefficients, extrapolated, repeats


def test_coefficients_are_those_of_a_zero_next_difference():
    assert coefficients(0) == [1]  # the last value again
    assert coefficients(1) == [-1, 2]  # 2 p1 - p0
    assert coefficients(2) == [1, -3, 3]  # p0 - 3 p1 + 3 p2


def test_a_pair_that_just_turned_is_carried_on_with_weight_three():
    history = [{"x": -1.0, "y": 1.0}, {"x": 1.0, "y": 1.0}]
    # x: 2 * 1 - (-1) = 3; y, steady: 2 * 1 - 1 = 1
    assert extrapolated(history, order=1) == {"x": 3.0, "y": 1.0}
    # two steps ahead: the window [-1, 1] becomes [1, 3], then 2 * 3 - 1 = 5
    assert extrapolated(history, order=1, ahead=2)["x"] == 5.0


def test_order_two_fits_a_parabola_and_the_order_is_capped_by_the_history():
    history = [{"x": 1.0}, {"x": -1.0}, {"x": -1.0}]
    assert extrapolated(history, order=2) == {"x": 1.0}  # 1 - 3 (-1) + 3 (-1)
    assert extrapolated(history, order=1) == {"x": -1.0}  # 2 (-1) - (-1)
    assert extrapolated(history[:1], order=3) == {"x": 1.0}  # one step: order 0, the value itself


def test_pairs_missing_from_an_earlier_step_count_zero_and_missing_now_are_dropped():
    history = [{"old": 1.0}, {"new": -0.5}]
    assert extrapolated(history, order=1) == {"new": -1.0}  # 2 (-0.5) - 0


def test_repeats_follow_the_size_capped_at_five_per_judgment():
    assert [repeats(v, 1) for v in (1, -3, 7, 0)] == [1, 3, 5, 0]
    assert repeats(0.2, 4) == 1 and repeats(1.5, 4) == 6 and repeats(9, 2) == 10
    with pytest.raises(ValueError):
        extrapolated([], order=1)
