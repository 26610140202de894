"""A Polis conversation export (comments.csv, votes.csv, summary.csv), read and checked (no Django).

`services/statements.py` imports it as a closed campaign. Every file is checked in full before anything
is written; a bad file is refused with each problem's file, line and field. Polis' votes.csv logs every vote cast, so a voter who changed their mind has
several rows for one comment: as in Polis' own participants-votes.csv, the latest one counts.
Voters and authors stay external ids; no Participant rows are made for them.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, datetime

COMMENT_COLUMNS = ("timestamp", "comment-id", "author-id", "moderated", "comment-body")
VOTE_COLUMNS = ("timestamp", "comment-id", "voter-id", "vote")
# Polis' moderation codes as statement statuses (Statement.Status).
MODERATION = {"-1": "rejected", "0": "pending", "1": "accepted"}
STATEMENT_IMPORT_MAX_CHARS = 5000
MAX_PROBLEMS = 50
SUMMARY_DESCRIPTION = "conversation-description"


@dataclass(frozen=True)
class ExportFile:
    name: str
    data: bytes


@dataclass(frozen=True)
class PolisComment:
    external_id: str
    author: str
    text: str
    status: str
    created_at: datetime


@dataclass(frozen=True)
class PolisVote:
    comment: str
    voter: str
    choice: int
    created_at: datetime


class _Refused(Exception):
    pass


def polis_summary_read(file: ExportFile) -> dict[str, str]:
    """summary.csv's key, value rows (topic, url, conversation-description, ...); refused if not UTF-8 CSV."""
    try:
        return {row[0]: row[1] for row in csv.reader(io.StringIO(_text(file))) if len(row) >= 2}
    except (_Refused, csv.Error) as exc:
        raise PolisExportRefused([f"{file.name}: {exc}"]) from None


@dataclass(frozen=True)
class PolisExport:
    comments: list[PolisComment]
    votes: list[PolisVote]  # every row of votes.csv, in file order
    latest: list[PolisVote]  # the vote that counts for each voter and comment: their latest


class PolisExportRefused(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def polis_export_read(*, comments: ExportFile, votes: ExportFile) -> PolisExport:
    """Reads and checks both files in full; refuses them with every problem found (up to MAX_PROBLEMS)."""
    problems: list[str] = []
    parsed_comments = _read_comments(comments, problems)
    parsed_votes = _read_votes(votes, problems, {c.external_id for c in parsed_comments} if parsed_comments else None)
    if problems:
        raise PolisExportRefused(problems)
    latest: dict[tuple[str, str], PolisVote] = {}
    for vote in sorted(parsed_votes, key=lambda v: v.created_at):  # stable: file order among equal times
        latest[(vote.voter, vote.comment)] = vote
    return PolisExport(comments=parsed_comments, votes=parsed_votes, latest=list(latest.values()))


def _read_comments(file: ExportFile, problems: list[str]) -> list[PolisComment]:
    comments: list[PolisComment] = []
    first_seen: dict[str, int] = {}
    for line, row in _rows(file, COMMENT_COLUMNS, problems):
        try:
            external_id = _whole(row, "comment-id")
            if external_id in first_seen:
                raise _Refused(f"comment-id {external_id} appears twice (first on line {first_seen[external_id]})")
            text = row["comment-body"].strip()
            if not text:
                raise _Refused("comment-body is empty")
            if len(text) > STATEMENT_IMPORT_MAX_CHARS:
                raise _Refused(f"comment-body has {len(text)} characters; at most {STATEMENT_IMPORT_MAX_CHARS}")
            moderated = row["moderated"].strip()
            if moderated not in MODERATION:
                raise _Refused(f"moderated must be -1, 0 or 1, got {moderated!r}")
            comment = PolisComment(external_id, _whole(row, "author-id"), text, MODERATION[moderated], _moment(row))
        except _Refused as exc:
            _note(problems, f"{file.name} line {line}: {exc}")
            continue
        first_seen[external_id] = line
        comments.append(comment)
    return comments


def _read_votes(file: ExportFile, problems: list[str], known: set[str] | None) -> list[PolisVote]:
    """`known` is None when comments.csv could not be read: comment ids go unchecked then."""
    votes: list[PolisVote] = []
    for line, row in _rows(file, VOTE_COLUMNS, problems):
        try:
            comment = _whole(row, "comment-id")
            if known is not None and comment not in known:
                raise _Refused(f"comment-id {comment} is not a comment in the comments file")
            choice = row["vote"].strip()
            if choice not in ("-1", "0", "1"):
                raise _Refused(f"vote must be -1 (disagree), 0 (pass) or 1 (agree), got {choice!r}")
            votes.append(PolisVote(comment, _whole(row, "voter-id"), int(choice), _moment(row)))
        except _Refused as exc:
            _note(problems, f"{file.name} line {line}: {exc}")
    return votes


def _rows(file: ExportFile, columns: tuple[str, ...], problems: list[str]):
    try:
        text = _text(file)
    except _Refused as exc:
        problems.append(f"{file.name}: {exc}")
        return
    reader = csv.reader(io.StringIO(text))
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in columns if c not in header]
    if missing:
        problems.append(f"{file.name} line 1: the header lacks {', '.join(missing)} "
                        f"(a Polis export's {file.name} has {', '.join(columns)})")
        return
    rows = 0
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        rows += 1
        if len(cells) != len(header):
            _note(problems, f"{file.name} line {reader.line_num}: has {len(cells)} fields, the header has {len(header)}")
            continue
        yield reader.line_num, dict(zip(header, cells))
    if not rows:
        problems.append(f"{file.name}: holds no rows.")


def _text(file: ExportFile) -> str:
    try:
        return file.data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise _Refused(f"is not UTF-8 text (byte {exc.start})") from None


def _whole(row: dict[str, str], column: str) -> str:
    value = row[column].strip()
    if not value.isdigit():
        raise _Refused(f"{column} must be a whole number, got {value!r}")
    return str(int(value))


def _moment(row: dict[str, str]) -> datetime:
    value = row["timestamp"].strip()
    if not value.isdigit():
        raise _Refused(f"timestamp must be milliseconds since 1970, got {value!r}")
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    except (OverflowError, ValueError, OSError):
        raise _Refused(f"timestamp {value} is out of range") from None


def _note(problems: list[str], problem: str) -> None:
    if len(problems) < MAX_PROBLEMS:
        problems.append(problem)
    elif len(problems) == MAX_PROBLEMS:
        problems.append(f"stopped listing after {MAX_PROBLEMS} problems.")
