"""Reconciles the writes a load run's clients saw acknowledged with the rows the database holds.

Both sides are lists of records `(participant, kind, key, value)`:

- an acknowledged write: the participant (public id), the kind of write ("upgrade", ...), what it
  was about (a story id, a statement id, ...) and what was written (the choice, the picks, ...);
- a row: the same four things, read back from the database after the run.

A key a participant wrote more than once (a changed vote) must hold the last acknowledged value.
Plain Python, no Django, so that a test can check it on a known set of rows.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

Record = tuple[str, str, Hashable, Hashable]  # (participant, kind, key, value)


@dataclass
class KindTally:
    acknowledged: int = 0  # distinct (participant, key) pairs acknowledged
    rows: int = 0
    lost: int = 0  # acknowledged, but no row, or a row holding another value
    duplicated: int = 0  # rows beyond the first for one (participant, key)
    unacknowledged: int = 0  # rows no client saw acknowledged (a request cut off, or a ghost write)
    examples: list[str] = field(default_factory=list)


def reconcile(acks: Iterable[Record], rows: Iterable[Record], *, examples: int = 3) -> dict[str, KindTally]:
    """Per kind of write: how many were acknowledged, and how many were lost, duplicated or never
    acknowledged. `acks` in the order the clients received them."""
    last: dict[tuple, Hashable] = {}
    for participant, kind, key, value in acks:
        last[(participant, kind, key)] = value
    found: dict[tuple, list[Hashable]] = defaultdict(list)
    for participant, kind, key, value in rows:
        found[(participant, kind, key)].append(value)

    tallies: dict[str, KindTally] = defaultdict(KindTally)

    def note(tally: KindTally, problem: str, where: tuple) -> None:
        if len(tally.examples) < examples:
            tally.examples.append(f"{problem}: participant {where[0]} key {where[2]!r}")

    for where, value in last.items():
        tally = tallies[where[1]]
        tally.acknowledged += 1
        held = found.get(where, [])
        if value not in held:
            tally.lost += 1
            note(tally, f"lost (acknowledged {value!r}, database has {held!r})", where)
    for where, values in found.items():
        tally = tallies[where[1]]
        tally.rows += len(values)
        extra = len(values) - 1
        if extra:
            tally.duplicated += extra
            note(tally, f"{extra} duplicate row(s)", where)
        if where not in last:
            tally.unacknowledged += len(values)
            note(tally, "never acknowledged", where)
    return dict(sorted(tallies.items()))
