"""A Meaning Alignment Institute study's files, read and checked (no Django). The import service
(`services/moral_graph.py`) turns a study into a closed campaign, so published studies can be
re-analysed with Chorus's aggregation.

Two files, each a JSON array of objects or a CSV file with a header row:
- values: MAI's `CanonicalValuesCard` table. dft (the 2023 study) names the fields `id, title,
  instructionsShort, instructionsDetailed, evaluationCriteria`; moral-graph-elicitation renamed
  them `description` and `policies`, and both spellings are read. A JSON object with a `values`
  array (a `MoralGraphSummary`) is read too. The attentional policies are a JSON array, a
  PostgreSQL array literal (`{"A","B"}`, as a table dump writes a `String[]` column) or one
  policy per line. dft's `instructionsDetailed` (optional) is kept and exported again in graph.json;
  other columns (`createdAt`, `isArchived`, `deliberationId`, `pageRank`, ...) are ignored.
- edges: MAI's `Edge` table, one vote per row: `userId, fromId, toId, contextId, relationship,
  story, comment, createdAt` (moral-graph-elicitation calls `relationship` `type`). `story` and
  `comment` may be missing or empty; other columns (`updatedAt`, `runId`, `deliberationId`) are
  ignored. `createdAt` is ISO 8601; a time without an offset is UTC, as Prisma stores it.

Every row is checked before anything is written, and a refused file leaves nothing behind.

A vote that appears more than once (same user, values and context) counts once, as a repeated
vote in Chorus does (`one_vote_per_imported_user_edge`). Taken in the order they were cast, a
repeat of the same answer changes nothing (the first stays, with its time, so graphs as of a
moment still see it) and a changed answer replaces the earlier one: the latest answer is kept.
Two different answers cast at the same moment have no latest one, and are refused.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from elicitation.domain.moral_graph import RELATIONSHIPS

MAX_ERRORS = 20  # per file: a systematic problem would otherwise list every row

# Our field: the names MAI's apps gave it, in order of preference.
VALUE_COLUMNS = {
    "id": ("id",),
    "title": ("title",),
    "description": ("instructionsShort", "description"),
    "policies": ("evaluationCriteria", "policies"),
}
OPTIONAL_VALUE_COLUMNS = {"instructions_detailed": ("instructionsDetailed",)}
EDGE_COLUMNS = {
    "user": ("userId",),
    "from": ("fromId",),
    "to": ("toId",),
    "context": ("contextId",),
    "relationship": ("relationship", "type"),
    "created_at": ("createdAt",),
}
OPTIONAL_EDGE_COLUMNS = {"story": ("story",), "comment": ("comment",)}

_MISSING = object()
T = TypeVar("T")


@dataclass(frozen=True)
class StudyFile:
    name: str  # as the curator knows it ("edges.csv"): every error message starts with it
    content: bytes


@dataclass(frozen=True)
class StudyValue:
    external_id: str
    title: str
    description: str
    policies: list[str]
    instructions_detailed: str


@dataclass(frozen=True)
class StudyVote:
    user: str
    from_id: str
    to_id: str
    context: str
    relationship: str
    answer_column: str  # "relationship" or "type", for naming it in a problem
    created_at: datetime
    story: str
    comment: str


class _Refused(Exception):
    """One problem with one row (or the whole file), already phrased for the curator."""



@dataclass(frozen=True)
class MaiStudy:
    values: list[StudyValue]
    votes: list[StudyVote]  # one per user, edge and context, in the order they were cast
    repeats: int  # rows that repeated a vote already in the file, counted once with it


class MaiStudyRefused(ValueError):
    def __init__(self, problems: dict[str, list[str]]):
        super().__init__("; ".join(p for found in problems.values() for p in found))
        self.problems = problems  # {"values": [...], "edges": [...]}, each problem naming file, row and field


def mai_study_read(*, values: StudyFile, edges: StudyFile) -> MaiStudy:
    """Reads and checks both files in full; refuses them with every problem found (up to MAX_ERRORS each)."""
    value_problems: list[str] = []
    cards, ids = _guarded(value_problems, lambda: _read_values(values, value_problems)) or ([], None)
    vote_problems: list[str] = []
    # Without any value id to check against, every vote would be flagged: only the values file's fault shows.
    votes, repeats = (
        _guarded(vote_problems, lambda: _read_votes(edges, vote_problems, ids or None, values.name)) or ([], 0)
    )
    problems = {key: found for key, found in (("values", value_problems), ("edges", vote_problems)) if found}
    if problems:
        raise MaiStudyRefused(problems)
    return MaiStudy(values=cards, votes=votes, repeats=repeats)


def _guarded(problems: list[str], read: Callable[[], T]) -> T | None:
    """A reader's result, or None when the file as a whole was refused (the reason joins `problems`)."""
    try:
        return read()
    except _Refused as exc:
        problems.append(str(exc))
        return None


def _read_values(file: StudyFile, problems: list[str]) -> tuple[list[StudyValue], set[str]]:
    """The values, and every id the file names (rows with other faults included)."""
    cards: dict[str, StudyValue] = {}
    first_seen: dict[str, str] = {}
    rows = 0
    for where, record in _records(file, VALUE_COLUMNS, root_key="values"):
        rows += 1
        if len(problems) >= MAX_ERRORS:
            problems.append(f"{file.name}: stopped after {MAX_ERRORS} problems.")
            break
        try:
            vid = _identifier(_field(record, VALUE_COLUMNS["id"]), "id")
            if vid in first_seen:
                raise _Refused(f"id {vid} appears twice (first at {first_seen[vid]})")
            first_seen[vid] = where
            cards[vid] = StudyValue(
                external_id=vid,
                title=_text(record, VALUE_COLUMNS["title"], max_length=100),
                description=_text(record, VALUE_COLUMNS["description"]),
                policies=_policies(record),
                instructions_detailed=_text(record, OPTIONAL_VALUE_COLUMNS["instructions_detailed"], required=False),
            )
        except _Refused as exc:
            problems.append(f"{file.name} {where}: {exc}")
    if not rows:
        problems.append(f"{file.name}: holds no values.")
    return list(cards.values()), set(first_seen)


def _read_votes(
    file: StudyFile, problems: list[str], known: set[str] | None, values_name: str
) -> tuple[list[StudyVote], int]:
    """The votes, one per user, edge and context, and how many rows repeated one.

    `known` is None when the values file could not be read: ids go unchecked then."""
    # Each vote's rows, in file order; a dict keeps the votes in the order they first appear.
    cast: dict[tuple[str, str, str, str], list[tuple[str, StudyVote]]] = {}
    rows = 0
    for where, record in _records(file, EDGE_COLUMNS, root_key="edges", aggregated_hint=True):
        rows += 1
        if len(problems) >= MAX_ERRORS:
            problems.append(f"{file.name}: stopped after {MAX_ERRORS} problems.")
            break
        try:
            vote = _vote(record, known, values_name)
            earlier = cast.setdefault((vote.user, vote.from_id, vote.to_id, vote.context), [])
            _refuse_contradiction(vote, earlier)
        except _Refused as exc:
            problems.append(f"{file.name} {where}: {exc}")
            continue
        earlier.append((where, vote))
    if not rows:
        problems.append(f"{file.name}: holds no votes.")
    votes = [_counted_once([vote for _, vote in repeated]) for repeated in cast.values()]
    return votes, sum(len(repeated) - 1 for repeated in cast.values())


def _refuse_contradiction(vote: StudyVote, earlier: list[tuple[str, StudyVote]]) -> None:
    """Two different answers to one vote cast at the same moment: neither is the latest."""
    for where, other in earlier:
        if other.created_at == vote.created_at and other.relationship != vote.relationship:
            raise _Refused(
                f"{vote.answer_column} {vote.relationship} contradicts {other.relationship} at {where}: user "
                f"{vote.user} voted on {vote.from_id} → {vote.to_id} in context {_shown(vote.context)} twice at "
                f"{vote.created_at.isoformat()}, so neither answer is the latest; keep one of the two rows"
            )


def _counted_once(rows: list[StudyVote]) -> StudyVote:
    """The one vote that a user's rows for an edge and context count as (see the module docstring)."""
    # Stable: rows cast at the same moment (with the same answer, or they were refused) keep file order.
    in_order = sorted(rows, key=lambda vote: vote.created_at)
    kept = in_order[0]
    for vote in in_order[1:]:
        if vote.relationship != kept.relationship:
            kept = vote
    return kept


def _vote(record: dict[str, Any], known: set[str] | None, values_name: str) -> StudyVote:
    user = _identifier(_field(record, EDGE_COLUMNS["user"]), "userId")
    ends = []
    for column in ("fromId", "toId"):
        vid = _identifier(_field(record, (column,)), column)
        if known is not None and vid not in known:
            raise _Refused(f"{column} {vid} is not an id in {values_name}")
        ends.append(vid)
    if ends[0] == ends[1]:
        raise _Refused(f"fromId and toId are both {ends[0]}; a value cannot be an upgrade of itself")
    context = _text(record, EDGE_COLUMNS["context"], max_length=300)
    column, relationship = _named_field(record, EDGE_COLUMNS["relationship"])
    relationship = relationship.strip() if isinstance(relationship, str) else relationship
    if relationship is _MISSING or relationship in (None, ""):
        raise _Refused(f"{column} is missing")
    if relationship not in RELATIONSHIPS:
        raise _Refused(f"{column} must be upgrade, no_upgrade or not_sure, got {_shown(relationship)}")
    return StudyVote(
        user=user, from_id=ends[0], to_id=ends[1], context=context, relationship=relationship, answer_column=column,
        created_at=_moment(_field(record, EDGE_COLUMNS["created_at"])),
        story=_text(record, OPTIONAL_EDGE_COLUMNS["story"], required=False),
        comment=_text(record, OPTIONAL_EDGE_COLUMNS["comment"], required=False),
    )


def _records(file: StudyFile, columns: dict[str, tuple[str, ...]], *, root_key: str,
             aggregated_hint: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, record) for each row; a CSV header must name every required column."""
    try:
        text = file.content.decode("utf-8-sig")  # spreadsheets often start CSV files with a BOM
    except UnicodeDecodeError as exc:
        raise _Refused(f"{file.name}: is not UTF-8 text (byte {exc.start} cannot be read).") from None
    if text.lstrip()[:1] in ("[", "{"):
        yield from _json_records(file, text, root_key, aggregated_hint)
    else:
        yield from _csv_records(file, text, columns)


def _json_records(file: StudyFile, text: str, root_key: str, aggregated_hint: bool):
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _Refused(f"{file.name}: is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}).") from None
    except RecursionError:
        raise _Refused(f"{file.name}: is nested too deeply to be a table of rows.") from None
    if isinstance(data, dict) and isinstance(data.get(root_key), list):
        data = data[root_key]
    if not isinstance(data, list):
        raise _Refused(f"{file.name}: must hold a JSON array of objects (or an object with a {root_key!r} array).")
    if aggregated_hint and data and isinstance(data[0], dict) and "sourceValueId" in data[0]:
        raise _Refused(f"{file.name}: holds an aggregated graph (sourceValueId, counts), not votes; "
                       "import the study's edges table, one row per vote.")
    for i, item in enumerate(data, start=1):
        where = f"item {i}"
        if not isinstance(item, dict):
            item = {_BAD_ROW: f"must be a JSON object, got {_shown(item)}"}
        yield where, item


def _csv_records(file: StudyFile, text: str, columns: dict[str, tuple[str, ...]]):
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise _Refused(f"{file.name}: is empty.") from None
    except csv.Error as exc:
        raise _Refused(f"{file.name} row 1: {exc}.") from None
    for names in columns.values():
        if not any(n in header for n in names):
            spelled = " or ".join(names)
            raise _Refused(f"{file.name}: missing column {spelled} (the header has {', '.join(header) or 'nothing'}).")
    # Rows are numbered as a spreadsheet shows them: the header is row 1.
    row = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise _Refused(f"{file.name} row {row + 1}: {exc}.") from None
        row += 1
        if not cells:
            continue  # a blank line, as csv files often end with
        where = f"row {row}"
        if len(cells) != len(header):
            yield where, {_BAD_ROW: f"has {len(cells)} cells, the header has {len(header)}"}
        else:
            yield where, dict(zip(header, cells))


_BAD_ROW = "\0bad row"  # a key no file can hold: the row is unusable, and why


def _named_field(record: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    if _BAD_ROW in record:
        raise _Refused(record[_BAD_ROW])
    for name in names:
        if name in record:
            return name, record[name]
    return names[0], _MISSING


def _field(record: dict[str, Any], names: tuple[str, ...]) -> Any:
    name, value = _named_field(record, names)
    if value is _MISSING or value is None or (isinstance(value, str) and not value.strip()):
        raise _Refused(f"{name} is missing")
    return value


def _identifier(value: Any, name: str) -> str:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise _Refused(f"{name} must be a number or text, got {_shown(value)}")
    text = str(value).strip()
    if len(text) > 100:
        raise _Refused(f"{name} is longer than 100 characters")
    return text


def _text(record: dict[str, Any], names: tuple[str, ...], *, max_length: int = 0, required: bool = True) -> str:
    name, value = _named_field(record, names)
    if value is _MISSING or value is None:
        value = ""
    if not isinstance(value, str):
        raise _Refused(f"{name} must be text, got {_shown(value)}")
    value = value.strip()
    if required and not value:
        raise _Refused(f"{name} is missing")
    if max_length and len(value) > max_length:
        raise _Refused(f"{name} is longer than {max_length} characters")
    return value


def _policies(record: dict[str, Any]) -> list[str]:
    name, _ = _named_field(record, VALUE_COLUMNS["policies"])
    value = _field(record, VALUE_COLUMNS["policies"])
    if isinstance(value, str):
        stripped = value.strip()
        if stripped.startswith("["):
            try:
                value = json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise _Refused(f"{name} is not a valid JSON array ({exc.msg})") from None
            except RecursionError:
                raise _Refused(f"{name} is nested too deeply to be a list of policies") from None
        elif stripped.startswith("{") and stripped.endswith("}"):
            value = _postgres_array(stripped, name)
        else:
            value = stripped.splitlines()
    if not isinstance(value, list) or not all(isinstance(p, str) for p in value):
        raise _Refused(f"{name} must be a list of policies (a JSON array of strings, or one per line)")
    policies = [p.strip() for p in value if p.strip()]
    if not policies:
        raise _Refused(f"{name} holds no policy")
    return policies


def _postgres_array(literal: str, name: str) -> list[str]:
    """A one-dimensional text[] literal: `{"FACTS about x",PLAIN,"with \\"quotes\\""}`."""
    items: list[str] = []
    body, i = literal[1:-1], 0
    while i < len(body):
        if body[i] == '"':
            i += 1
            item = []
            while i < len(body) and body[i] != '"':
                if body[i] == "\\" and i + 1 < len(body):
                    i += 1
                item.append(body[i])
                i += 1
            if i >= len(body):
                raise _Refused(f"{name} has an unclosed quote")
            items.append("".join(item))
            i += 1
        else:
            end = body.find(",", i)
            end = len(body) if end < 0 else end
            items.append(body[i:end].strip())
            i = end
        if i < len(body):
            if body[i] != ",":
                raise _Refused(f"{name} is not a valid array literal")
            i += 1
    return items


def _moment(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _Refused(f"createdAt must be an ISO 8601 date and time, got {_shown(value)}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise _Refused(f"createdAt must be an ISO 8601 date and time, got {_shown(value)}") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "…"
