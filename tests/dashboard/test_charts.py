"""The trend charts' geometry (chorus.dashboard.charts): where each wave, value and gap lands, and
how missing values break lines instead of being drawn as zero."""
from __future__ import annotations

from chorus.dashboard.charts import COLOURS, LARGE, SMALL, Population, Series, Size, gap_scale, path, trend_chart

# A plot 240 wide from x=40 (three steps: slots of 80, centres at 80, 160, 240); values from y=110
# (0) up to y=10 (1); the gap panel from y=120 to y=160, zero at 140.
SIZE = Size(width=280, values_height=100, gaps_height=40, left=40, right=0, top=10, between=10, bottom=20)


def chart(population, *trackers, size=SIZE):
    return trend_chart(steps=[f"W{t + 1}" for t in range(len(population))], population=population,
                       trackers=list(trackers), size=size)


def test_steps_sit_in_the_middle_of_equal_slots_and_values_on_a_fixed_zero_to_one_scale():
    c = chart([Population(0.0, 0.0, 0.2), Population(0.5, 0.4, 0.6), Population(1.0, 0.9, 1.0)])
    assert [(t.at, t.label) for t in c.x_ticks] == [(80.0, "W1"), (160.0, "W2"), (240.0, "W3")]
    assert [(t.at, t.label) for t in c.y_ticks] == [(110.0, "0"), (60.0, "0.5"), (10.0, "1")]
    assert [(i.x, i.mean, i.low, i.high) for i in c.intervals] == [
        (80.0, 110.0, 110.0, 90.0), (160.0, 60.0, 70.0, 50.0), (240.0, 10.0, 20.0, 10.0)]
    assert c.population_path == "M80,110 L160,60 L240,10"
    assert c.bands == ("80,90 160,50 240,10 240,20 160,70 80,110",)  # along the tops, back along the bottoms
    assert (c.width, c.height, c.gaps_top, c.gaps_zero, c.gaps_bottom) == (280, 180, 120.0, 140.0, 160.0)


def test_one_line_per_tracker_in_order_with_its_key_and_a_colour_that_cycles():
    trackers = [Series(f"run {k}", [0.25, 0.5, 0.75], [None, None, None]) for k in range(COLOURS + 1)]
    c = chart([Population(0.5, 0.4, 0.6)] * 3, *trackers)
    assert [line.key for line in c.lines] == [f"run {k}" for k in range(COLOURS + 1)]
    assert [line.colour for line in c.lines] == [*range(COLOURS), 0]
    assert c.lines[0].path == "M80,85 L160,60 L240,35"
    assert c.lines[0].points == ((80.0, 85.0), (160.0, 60.0), (240.0, 35.0))


def test_a_wave_without_answers_breaks_the_population_line_and_is_marked():
    c = chart([Population(0.2, 0.1, 0.3), None, Population(0.6, 0.5, 0.7), Population(0.8, None, None)])
    assert [m.label for m in c.missing] == ["W2"]
    assert c.population_path == "M190,50 L250,30"  # no line through W2, and none from W1 alone
    assert [i.x for i in c.intervals] == [70.0, 190.0, 250.0]  # W1's dot and bar are still drawn
    assert c.intervals[-1].low == c.intervals[-1].high == c.intervals[-1].mean  # no interval: a bare dot
    assert c.bands == ()  # W3 alone has an interval next to no other


def test_a_population_value_missing_in_one_dimension_counts_as_a_missing_wave():
    c = chart([Population(None, None, None), Population(0.5, 0.4, 0.6), Population(0.5, 0.4, 0.6)])
    assert [m.label for m in c.missing] == ["W1"] and len(c.intervals) == 2


def test_a_tracker_missing_a_step_keeps_its_other_points_and_lifts_the_pen():
    c = chart([Population(0.5, 0.4, 0.6)] * 3, Series("t", [0.5, None, 0.5], [0.0, None, 0.0]))
    assert c.lines[0].path == ""  # no two neighbouring points
    assert c.lines[0].points == ((80.0, 60.0), (240.0, 60.0))


def test_a_tracker_with_intervals_gets_a_capped_whisker_at_each_point_that_has_both_ends():
    c = chart([Population(0.5, 0.4, 0.6)] * 3,
              Series("t", [0.5, None, 0.7], [0.0, None, -0.2], lows=[0.4, 0.2, None], highs=[0.8, 0.3, 0.9]))
    assert [(w.x, w.low, w.high) for w in c.lines[0].whiskers] == [(80.0, 70.0, 30.0)]  # no value, no low: none
    # Caps of 2 * min(80 * 0.08, 4) = 8 wide, centred on the step.
    assert c.lines[0].whiskers[0].path == "M80,70 V30 M76,70 H84 M76,30 H84"
    assert chart([Population(0.5, 0.4, 0.6)], Series("t", [0.5], [0.0])).lines[0].whiskers == ()  # none recorded


def test_values_outside_zero_to_one_are_clamped_into_the_panel():
    c = chart([Population(1.2, 1.1, 1.3)] * 2, Series("t", [-0.1, 0.5], [0.0, 0.0]))
    assert c.intervals[0].mean == 10.0 and c.lines[0].points[0][1] == 110.0


def test_gap_bars_point_up_when_the_population_is_above_the_tracker_and_scale_to_the_largest_gap():
    population = [Population(0.5, 0.4, 0.6)] * 3
    c = chart(population, Series("a", [0.4, 0.5, 0.7], [0.1, 0.0, -0.2]), Series("b", [0.5] * 3, [None, None, 0.05]))
    assert c.gaps_limit == 0.2
    bars = {(b.key, b.step): b for b in c.gap_bars}
    assert set(bars) == {("a", 0), ("a", 1), ("a", 2), ("b", 2)}  # nothing for a missing gap
    up, flat, down = bars["a", 0], bars["a", 1], bars["a", 2]
    assert (up.y, up.height) == (130.0, 10.0)  # 0.1 of 0.2 is half of the 20 above zero
    assert (flat.y, flat.height) == (140.0, 0.0)
    assert (down.y, down.height) == (140.0, 20.0)  # hangs from zero
    # Side by side, centred on the step: two bars of 16, from 240 - 16 to 240 + 16.
    assert (down.x, down.width, bars["b", 2].x) == (224.0, 16.0, 240.0)
    assert (down.value, down.colour, bars["b", 2].colour) == (-0.2, 0, 1)


def test_gap_scale_is_the_first_round_end_that_holds_every_gap():
    assert gap_scale([]) == 0.05
    assert gap_scale([0.05, -0.01]) == 0.05
    assert gap_scale([-0.3]) == 0.5
    assert gap_scale([0.7]) == 1.0
    assert gap_scale([1.5]) == 1.0  # cannot happen with values in [0, 1]; the bar is capped


def test_path_lifts_the_pen_at_each_gap_and_skips_lone_points():
    assert path([(0, 0), (1, 1), None, (2, 2), None, (3, 3), (4, 4.5)]) == "M0,0 L1,1 M3,3 L4,4.5"
    assert path([]) == "" and path([None, (1, 1), None]) == ""


def test_both_sizes_fit_every_mark_inside_the_picture():
    population = [Population(v, max(v - 0.1, 0), min(v + 0.1, 1)) for v in (0.0, 0.3, 0.9, 1.0)]
    for size in (SMALL, LARGE):
        c = chart(population, Series("t", [1.0, 0.0, 0.5, 0.2], [-1.0, 0.3, 0.4, 0.8]), size=size)
        xs = [t.at for t in c.x_ticks] + [b.x for b in c.gap_bars] + [b.x + b.width for b in c.gap_bars]
        ys = [y for _, y in c.lines[0].points] + [b.y for b in c.gap_bars] + [b.y + b.height for b in c.gap_bars]
        assert all(c.left <= x <= c.right for x in xs) and all(0 <= y <= c.gaps_bottom < c.height for y in ys)
        assert c.values_bottom < c.gaps_top


def test_whiskers_of_several_trackers_at_one_step_stand_apart_around_it_and_lines_stay_on_it():
    population = [Population(0.5, 0.4, 0.6)] * 3
    interval = {"lows": [0.4, 0.4, 0.4], "highs": [0.6, 0.6, 0.6]}
    c = chart(population, Series("a", [0.5] * 3, [0.0] * 3, **interval), Series("b", [0.5] * 3, [0.0] * 3),
              Series("c", [0.5] * 3, [0.0] * 3, **interval), Series("d", [0.5] * 3, [0.0] * 3, **interval))
    # Three trackers with intervals, slots of 80: min(80 * 0.5 / 3, 6) = 6 apart, centred on each step;
    # caps 0.4 * 6 = 2.4 wide each side, so neighbouring caps never touch.
    assert [[w.x for w in line.whiskers] for line in c.lines] == [
        [74.0, 154.0, 234.0], [], [80.0, 160.0, 240.0], [86.0, 166.0, 246.0]]
    first = c.lines[0].whiskers[0]
    assert (first.cap_left, first.cap_right) == (71.6, 76.4) and first.path.startswith("M74,70 V50 M71.6,70 H76.4")
    assert all(line.points[0] == (80.0, 60.0) for line in c.lines)  # the lines and dots stay on the step
    # Narrow slots (9 steps over 240: 26.7 each) keep all the whiskers within the middle half of the slot.
    def whiskers_x(trackers: int) -> list[float]:
        c = chart([Population(0.5, 0.4, 0.6)] * 9, *(Series(k, [0.5] * 9, [0.0] * 9, lows=[0.4] * 9, highs=[0.6] * 9)
                                                    for k in range(trackers)))
        return [line.whiskers[0].x for line in c.lines]

    assert whiskers_x(2) == [50.3, 56.3]  # 6 apart around 53.3, the first step
    seven = whiskers_x(7)
    assert seven[-1] - seven[0] <= 26.7 / 2 and seven == sorted(seven) and len(set(seven)) == 7
