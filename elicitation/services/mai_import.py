"""Importing a Meaning Alignment Institute study as a new campaign, so published studies can be
re-analysed with Chorus's aggregation (DESIGN.md, Elicitation, item 6).

Two files, each a JSON array of objects or a CSV file with a header row:
- values: MAI's `CanonicalValuesCard` table. dft (the 2023 study) names the fields `id, title,
  instructionsShort, instructionsDetailed, evaluationCriteria`; moral-graph-elicitation renamed
  them `description` and `policies`, and both spellings are read. A JSON object with a `values`
  array (a `MoralGraphSummary`) is read too. The attentional policies are a JSON array, a
  PostgreSQL array literal (`{"A","B"}`, as a table dump writes a `String[]` column) or one
  policy per line. `instructionsDetailed` has no place in Chorus and is not kept.
- edges: MAI's `Edge` table, one vote per row: `userId, fromId, toId, contextId, relationship,
  story, comment, createdAt` (moral-graph-elicitation calls `relationship` `type`). `story` and
  `comment` may be missing or empty; other columns (`updatedAt`, `runId`, `deliberationId`) are
  ignored. `createdAt` is ISO 8601; a time without an offset is UTC, as Prisma stores it.

Every row is checked before anything is written, and a refused file leaves nothing behind. A
vote that appears twice (same user, values and context) is refused rather than counted once:
MAI's own table keys votes by user and pair, so a repeat means the export was mangled, and
when the two answers differ there is no right one to keep.
"""
from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from ..models import Campaign, CanonicalCard, Context, EdgeVote, Relationship, UpgradeStory
from .campaigns import campaign_create

# The original questions are not in MAI's tables; the curator can name them on import.
IMPORTED_QUESTION = "The questions of the imported study (not part of its files)"
MAX_ERRORS = 20  # per file: a systematic problem would otherwise list every row
BATCH_SIZE = 5_000

# Our field: the names MAI's apps gave it, in order of preference.
VALUE_COLUMNS = {
    "id": ("id",),
    "title": ("title",),
    "description": ("instructionsShort", "description"),
    "policies": ("evaluationCriteria", "policies"),
}
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


@dataclass(frozen=True)
class StudyFile:
    name: str  # as the curator knows it ("edges.csv"): every error message starts with it
    content: bytes


@dataclass(frozen=True)
class MaiImportSummary:
    campaign: Campaign
    values: int
    contexts: int
    votes: int
    voters: int
    stories: int


@dataclass(frozen=True)
class _Value:
    external_id: str
    title: str
    description: str
    policies: list[str]


@dataclass(frozen=True)
class _Vote:
    user: str
    from_id: str
    to_id: str
    context: str
    relationship: str
    created_at: datetime
    story: str
    comment: str


class _Refused(Exception):
    """One problem with one row (or the whole file), already phrased for the curator."""


def mai_study_import(
    *,
    title: str,
    values: StudyFile,
    edges: StudyFile,
    questions: Sequence[str] = (),
    description: str = "",
) -> MaiImportSummary:
    """Creates a closed campaign holding the study's values, contexts, stories and votes."""
    errors: dict[str, list[str]] = {}
    cards = _collect(values, _read_values, errors, "values")
    known = {v.external_id for v in cards or ()}
    votes = _collect(edges, lambda f: _read_votes(f, known, values.name), errors, "edges")
    if errors:
        raise ValidationError(errors)
    assert cards is not None and votes is not None
    with transaction.atomic():
        campaign = campaign_create(
            title=title, description=description, questions=list(questions) or [IMPORTED_QUESTION],
            activities=(), status=Campaign.Status.CLOSED,
        )
        return _write(campaign, cards, votes)


def _collect(file: StudyFile, read, errors: dict[str, list[str]], key: str):
    """Runs a reader that yields per-row problems and finally returns its rows."""
    problems: list[str] = []
    try:
        rows = read(file)
        while True:
            try:
                problems.append(next(rows))
            except StopIteration as done:
                result = done.value
                break
            if len(problems) == MAX_ERRORS:
                problems.append(f"{file.name}: stopped after {MAX_ERRORS} problems.")
                result = None
                break
    except _Refused as exc:
        problems.append(str(exc))
        result = None
    if problems:
        errors[key] = problems
        return None
    return result


def _read_values(file: StudyFile) -> Iterator[str]:
    cards: dict[str, _Value] = {}
    first_seen: dict[str, str] = {}
    for where, record in _records(file, VALUE_COLUMNS, root_key="values"):
        try:
            vid = _identifier(_field(record, VALUE_COLUMNS["id"]), "id")
            if vid in cards:
                raise _Refused(f"id {vid} appears twice (first at {first_seen[vid]})")
            card = _Value(
                external_id=vid,
                title=_text(record, VALUE_COLUMNS["title"], max_length=100),
                description=_text(record, VALUE_COLUMNS["description"], required=False),
                policies=_policies(record),
            )
        except _Refused as exc:
            yield f"{file.name} {where}: {exc}"
            continue
        cards[vid] = card
        first_seen[vid] = where
    if not cards and not first_seen:
        yield f"{file.name}: holds no values."
    return list(cards.values())


def _read_votes(file: StudyFile, known: set[str], values_name: str) -> Iterator[str]:
    votes: list[_Vote] = []
    first_seen: dict[tuple[str, str, str, str], str] = {}
    columns = EDGE_COLUMNS | OPTIONAL_EDGE_COLUMNS
    for where, record in _records(file, EDGE_COLUMNS, root_key="edges", aggregated_hint=True):
        try:
            vote = _vote(record, known, values_name)
            key = (vote.user, vote.from_id, vote.to_id, vote.context)
            if key in first_seen:
                raise _Refused(
                    f"user {vote.user} voted on {vote.from_id} → {vote.to_id} in context {vote.context!r} "
                    f"already (at {first_seen[key]}); each vote may appear once"
                )
        except _Refused as exc:
            yield f"{file.name} {where}: {exc}"
            continue
        first_seen[key] = where
        votes.append(vote)
    del columns
    if not votes and not first_seen:
        yield f"{file.name}: holds no votes."
    return votes


def _vote(record: dict[str, Any], known: set[str], values_name: str) -> _Vote:
    user = _identifier(_field(record, EDGE_COLUMNS["user"]), "userId")
    ends = []
    for name in ("from", "to"):
        (column,) = EDGE_COLUMNS[name]
        vid = _identifier(_field(record, EDGE_COLUMNS[name]), column)
        if vid not in known:
            raise _Refused(f"{column} {vid} is not an id in {values_name}")
        ends.append(vid)
    if ends[0] == ends[1]:
        raise _Refused(f"fromId and toId are both {ends[0]}; a value cannot be an upgrade of itself")
    context = _text(record, EDGE_COLUMNS["context"], max_length=300)
    column, relationship = _named_field(record, EDGE_COLUMNS["relationship"])
    if relationship not in Relationship.values:
        raise _Refused(f"{column} must be upgrade, no_upgrade or not_sure, got {_shown(relationship)}")
    return _Vote(
        user=user, from_id=ends[0], to_id=ends[1], context=context, relationship=relationship,
        created_at=_moment(_field(record, EDGE_COLUMNS["created_at"])),
        story=_text(record, OPTIONAL_EDGE_COLUMNS["story"], required=False),
        comment=_text(record, OPTIONAL_EDGE_COLUMNS["comment"], required=False),
    )


def _write(campaign: Campaign, values: list[_Value], votes: list[_Vote]) -> MaiImportSummary:
    cards = CanonicalCard.objects.bulk_create(
        [CanonicalCard(campaign=campaign, title=v.title, description=v.description, policies=v.policies,
                       external_id=v.external_id) for v in values],
        batch_size=BATCH_SIZE,
    )
    card = {c.external_id: c for c in cards}  # PostgreSQL returns the new primary keys
    texts = list(dict.fromkeys(v.context for v in votes))
    contexts = dict(zip(texts, Context.objects.bulk_create(
        [Context(campaign=campaign, text=t) for t in texts], batch_size=BATCH_SIZE)))
    # A context applies to the values voted on in it, as it does for values elicited in Chorus.
    applies = dict.fromkeys((v.context, vid) for v in votes for vid in (v.from_id, v.to_id))
    Through = Context.cards.through
    Through.objects.bulk_create(
        [Through(context=contexts[t], canonicalcard=card[vid]) for t, vid in applies], batch_size=BATCH_SIZE)
    # One story per (from, to, context), as participants see it; the first text in the file wins.
    told: dict[tuple[str, str, str], UpgradeStory] = {}
    for v in votes:
        if v.story and (v.from_id, v.to_id, v.context) not in told:
            told[v.from_id, v.to_id, v.context] = UpgradeStory(
                campaign=campaign, context=contexts[v.context], from_card=card[v.from_id], to_card=card[v.to_id],
                story=v.story)
    UpgradeStory.objects.bulk_create(told.values(), batch_size=BATCH_SIZE)
    EdgeVote.objects.bulk_create(
        [EdgeVote(campaign=campaign, participant=None, external_user_id=v.user,
                  story=told.get((v.from_id, v.to_id, v.context)), from_card=card[v.from_id],
                  to_card=card[v.to_id], context=contexts[v.context], relationship=v.relationship,
                  comment=v.comment, created_at=v.created_at) for v in votes],
        batch_size=BATCH_SIZE,
    )
    return MaiImportSummary(
        campaign=campaign, values=len(cards), contexts=len(contexts), votes=len(votes),
        voters=len({v.user for v in votes}), stories=len(told),
    )


# Reading files.

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
            raise _Refused(f"{file.name} {where}: must be a JSON object, got {type(item).__name__}.")
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
            yield where, {_BAD_WIDTH: f"has {len(cells)} cells, the header has {len(header)}"}
        else:
            yield where, dict(zip(header, cells))


_BAD_WIDTH = "\0width"


def _named_field(record: dict[str, Any], names: tuple[str, ...]) -> tuple[str, Any]:
    if _BAD_WIDTH in record:
        raise _Refused(record[_BAD_WIDTH])
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
