"""bench/load.py's reconciliation of acknowledged writes with database rows, on known records."""
from bench.load_reconcile import reconcile


def test_matching_writes_reconcile_to_nothing_lost_or_duplicated():
    acks = [("p1", "upgrade", 7, "upgrade"), ("p1", "statement_vote", 3, "agree"), ("p2", "join", None, None)]
    rows = [("p2", "join", None, None), ("p1", "statement_vote", 3, "agree"), ("p1", "upgrade", 7, "upgrade")]

    tallies = reconcile(acks, rows)

    assert {k: (t.acknowledged, t.rows, t.lost, t.duplicated, t.unacknowledged) for k, t in tallies.items()} == {
        "join": (1, 1, 0, 0, 0), "statement_vote": (1, 1, 0, 0, 0), "upgrade": (1, 1, 0, 0, 0)}


def test_a_missing_row_and_a_row_with_another_value_are_lost():
    acks = [("p1", "upgrade", 7, "upgrade"), ("p1", "upgrade", 8, "no_upgrade"), ("p2", "upgrade", 7, "not_sure")]
    rows = [("p1", "upgrade", 7, "upgrade"), ("p2", "upgrade", 7, "upgrade")]

    tally = reconcile(acks, rows)["upgrade"]

    assert (tally.acknowledged, tally.lost, tally.duplicated, tally.unacknowledged) == (3, 2, 0, 0)
    assert any("p2" in e and "not_sure" in e for e in tally.examples)


def test_a_changed_vote_must_hold_the_last_acknowledged_value():
    acks = [("p1", "statement_vote", 3, "agree"), ("p1", "statement_vote", 3, "disagree")]

    assert reconcile(acks, [("p1", "statement_vote", 3, "disagree")])["statement_vote"].lost == 0
    assert reconcile(acks, [("p1", "statement_vote", 3, "agree")])["statement_vote"].lost == 1


def test_extra_rows_for_one_write_are_duplicates_and_rows_nobody_saw_are_unacknowledged():
    acks = [("p1", "comparison", 11, None), ("p1", "system_message", None, None)]
    rows = [("p1", "comparison", 11, None), ("p1", "system_message", None, None),
            ("p1", "system_message", None, None), ("p1", "system_message", None, None), ("p3", "comparison", 12, None)]

    tallies = reconcile(acks, rows)

    assert (tallies["system_message"].duplicated, tallies["system_message"].lost) == (2, 0)
    assert (tallies["comparison"].unacknowledged, tallies["comparison"].duplicated, tallies["comparison"].rows) == (1, 0, 2)
