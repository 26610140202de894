"""Reading and checking a preference dataset file, one row at a time. No Django.

A file is JSONL (optionally gzipped), CSV (optionally gzipped), Parquet, or a folder that
`datasets.load_dataset` reads. Each row gives an annotator (`user`), a `prompt`, the `chosen` and the
`rejected` response, optionally a `system` message, and any columns the researcher keeps as
metadata. A `Columns` mapping names other columns (PRISM's `user_id`, a study's `judge`).

`checked_rows` yields every row with what is wrong with it, if anything, and never holds more than
one row: a file of any length reads in bounded memory. Line numbers are the file's own (JSONL,
CSV: the line a record starts on, the header being line 1); for Parquet and folders they count
rows from 1.

What happens to a bad row (docs/training.md, "Importing preference datasets"):
- refused (the whole file is refused, with each such row's line and field): a missing or empty
  `user` or `prompt`, a missing `chosen` or `rejected`, a value that is not text, text that is not
  UTF-8, a column that is neither mapped, kept as metadata nor ignored, a line that is not a JSON
  object, a CSV record with the wrong number of values;
- reported and skipped (counted, with the first lines listed): an empty `chosen` or `rejected`
  and `chosen == rejected`, which public datasets such as HH-RLHF contain and which say nothing
  about what the annotator prefers. An annotator left with no pairs is dropped and counted.
"""
from __future__ import annotations

import csv
import gzip
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FIELDS = ("user", "prompt", "chosen", "rejected", "system")
RESPONSES = ("chosen", "rejected")
FORMATS = ("jsonl", "csv", "parquet", "folder")
METADATA_COLUMN = "metadata"  # a column of this name holding an object is kept as metadata
MAX_TEXT_CHARS = 200_000  # per field: longer than any real prompt or response, short of abuse
MAX_LINE_BYTES = 8 * 2**20  # a line is read whole: this bounds memory for a file with no line breaks
_BATCH_ROWS = 1024
# Why a row is skipped (reported, not refused): each a key of the import report's counts.
EMPTY_RESPONSE = "an empty response: no preference to learn"
SAME_RESPONSE = "the same as chosen: no preference to learn"
SKIP_KEYS = {EMPTY_RESPONSE: "empty_response", SAME_RESPONSE: "same_response"}

csv.field_size_limit(MAX_TEXT_CHARS * 4 + 1)  # a longer field is refused by our own check, by name


class ColumnsError(ValueError):
    """A column mapping that cannot be right (an unknown field, one column for two fields)."""


@dataclass(frozen=True)
class Columns:
    """Where each field is in the file. `fields` maps a field (user, prompt, chosen, rejected,
    system) to its column when the names differ; `metadata` columns are kept with each row under
    `metadata`; `ignore` columns are dropped. Any other column refuses the file, so that a typo in
    the mapping is never a silently missing field."""

    fields: Mapping[str, str] = field(default_factory=dict)
    metadata: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        unknown = sorted(set(self.fields) - set(FIELDS))
        if unknown:
            raise ColumnsError(f"Unknown field {unknown[0]!r}: map one of {', '.join(FIELDS)}.")
        named = [*self.fields.values(), *self.metadata, *self.ignore]
        twice = sorted({c for c in named if named.count(c) > 1})
        if twice:
            raise ColumnsError(f"Column {twice[0]!r} is named twice in the mapping.")

    @classmethod
    def parse(cls, mapping: str = "", *, metadata: str = "", ignore: str = "") -> Columns:
        """From `user=judge,prompt=question` and comma-separated column lists."""
        fields: dict[str, str] = {}
        for part in filter(None, (p.strip() for p in mapping.split(","))):
            name, sep, column = (s.strip() for s in part.partition("="))
            if not sep or not name or not column:
                raise ColumnsError(f"Write each mapping as field=column, not {part!r}.")
            if name in fields:
                raise ColumnsError(f"Field {name!r} is mapped twice.")
            fields[name] = column
        return cls(fields=fields, metadata=_names(metadata), ignore=_names(ignore))

    def column(self, name: str) -> str:
        return self.fields.get(name, name)

    def as_dict(self) -> dict[str, Any]:
        return {"fields": dict(self.fields), "metadata": list(self.metadata), "ignore": list(self.ignore)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Columns:
        return cls(fields=dict(data.get("fields", {})), metadata=tuple(data.get("metadata", ())),
                   ignore=tuple(data.get("ignore", ())))


def _names(text: str) -> tuple[str, ...]:
    return tuple(filter(None, (c.strip() for c in text.split(","))))


@dataclass(frozen=True)
class Problem:
    """What is wrong with one row. `skipped`: reported and left out, rather than refusing the file."""

    line: int  # 0: the file as a whole
    field: str  # the field or column; "" when the whole line is at fault
    message: str
    skipped: bool = False

    def describe(self, file: str) -> str:
        where = f"line {self.line}" if self.line else "the file"
        return f"{file}, {where}" + (f", field “{self.field}”" if self.field else "") + f": {self.message}"

    def as_dict(self, file: str) -> dict[str, Any]:
        """JSON that PostgreSQL can store: a column name may hold bytes that were not UTF-8 or a NUL."""
        return {"file": storable(file), "line": self.line, "field": storable(self.field),
                "message": storable(self.message)}


def storable(text: str) -> str:
    """`text` with lone surrogates and NUL characters written out as escapes."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\0")


@dataclass(frozen=True)
class Pair:
    user: str  # the annotator id as the file gives it; the service pseudonymises it
    prompt: str
    chosen: str
    rejected: str
    system: str
    metadata: dict[str, Any]


def detect_format(path: Path) -> str:
    """The format a path's name (or being a folder) says it has."""
    if path.is_dir():
        return "folder"
    name = path.name.lower().removesuffix(".gz")
    for suffixes, fmt in (((".jsonl", ".json", ".ndjson"), "jsonl"), ((".csv",), "csv"), ((".parquet",), "parquet")):
        if name.endswith(suffixes):
            return fmt
    raise ColumnsError("Name the file .jsonl, .jsonl.gz, .csv, .csv.gz or .parquet, or give its format.")


def checked_rows(path: Path, fmt: str, columns: Columns, *, split: str = "train"
                 ) -> Iterator[tuple[int, Pair | None, Problem | None]]:
    """(line, the row's pair or None, what is wrong with it or None) for every row of the file; a
    pair comes with a problem only when the row is skipped (see `check_record`).
    A problem at line 0 (or a refusing one that ends the file early) concerns the file as a whole."""
    records = {"jsonl": _jsonl_records, "csv": _csv_records, "parquet": _parquet_records,
               "folder": lambda p: _folder_records(p, split)}[fmt](path)
    unknown_seen: set[str] = set()
    known = {*(columns.column(f) for f in FIELDS), *columns.metadata, *columns.ignore, METADATA_COLUMN}
    for line, record in records:
        if isinstance(record, Problem):
            yield line, None, record
            continue
        unknown = sorted(set(record) - known - unknown_seen)
        if unknown:  # once per column, at its first line (a CSV's header): the fix is the same for every row
            unknown_seen.update(unknown)
            yield line, None, Problem(1 if fmt == "csv" else line, unknown[0], "an unknown column: map it to a "
                                      "field, keep it as "
                                      "metadata or ignore it" + (f" (also {', '.join(unknown[1:])})" if unknown[1:] else ""))
            continue
        pair, problem = check_record(line, record, columns)
        yield line, pair, problem


def check_record(line: int, record: Mapping[str, Any], columns: Columns) -> tuple[Pair | None, Problem | None]:
    """One row's pair, and the first thing wrong with it. A skipped row still gives its pair (so
    that its annotator is counted); a refused one gives none."""
    values: dict[str, str] = {}
    for name in FIELDS:
        column = columns.column(name)
        value = record.get(column)
        if value is None:
            if name == "system":
                values[name] = ""
                continue
            return None, Problem(line, column, "missing")
        if name == "user" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)  # annotator ids are often numbers
        text, problem = _text(line, column, value)
        if problem:
            return None, problem
        values[name] = text
    metadata, problem = _metadata(line, record, columns)
    if problem:
        return None, problem
    for name in ("user", "prompt"):
        if not values[name].strip():
            return None, Problem(line, columns.column(name), "empty")
    pair = Pair(metadata=metadata, **values)
    for name in RESPONSES:
        if not values[name].strip():
            return pair, Problem(line, columns.column(name), EMPTY_RESPONSE, skipped=True)
    if values["chosen"] == values["rejected"]:
        return pair, Problem(line, columns.column("rejected"), SAME_RESPONSE, skipped=True)
    return pair, None


def _text(line: int, column: str, value: Any) -> tuple[str, Problem | None]:
    if isinstance(value, bytes):  # Parquet binary columns
        try:
            value = value.decode("utf-8")
        except UnicodeDecodeError as exc:
            return "", Problem(line, column, f"not UTF-8 text (byte {exc.start + 1})")
    if not isinstance(value, str):
        return "", Problem(line, column, f"not text (a {type(value).__name__})")
    if not _utf8(value):
        return "", Problem(line, column, "not UTF-8 text")
    if len(value) > MAX_TEXT_CHARS:
        return "", Problem(line, column, f"longer than {MAX_TEXT_CHARS:,} characters")
    return value, None


def _utf8(text: str) -> bool:
    # Bytes that were not UTF-8 arrive as lone surrogates (surrogateescape), as do JSON's "\ud800".
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _metadata(line: int, record: Mapping[str, Any], columns: Columns) -> tuple[dict[str, Any], Problem | None]:
    metadata: dict[str, Any] = {}
    nested = record.get(METADATA_COLUMN)
    if nested is not None and METADATA_COLUMN not in columns.ignore:
        if not isinstance(nested, dict):
            return {}, Problem(line, METADATA_COLUMN, "not an object (name its column in the mapping to keep it)")
        metadata.update(nested)
    for column in columns.metadata:
        if column in record:
            metadata[column] = record[column]
    if not metadata:
        return {}, None
    try:
        json.dumps(metadata, ensure_ascii=False, default=str).encode("utf-8")
    except UnicodeEncodeError:
        bad = next((k for k, v in metadata.items() if not _utf8(json.dumps(v, ensure_ascii=False, default=str))),
                   METADATA_COLUMN)
        return {}, Problem(line, bad, "not UTF-8 text")
    return json.loads(json.dumps(metadata, default=str)), None  # dates and the like as text


# Formats ------------------------------------------------------------------------------------------

Record = dict[str, Any] | Problem


def _open_binary(path: Path):
    f = open(path, "rb")
    magic = f.read(2)
    f.seek(0)
    return gzip.GzipFile(fileobj=f, mode="rb") if magic == b"\x1f\x8b" else f


def _lines(path: Path) -> Iterator[tuple[int, str | Problem] | Problem]:
    """(line number, text) per line; bytes that are not UTF-8 survive as lone surrogates so the
    field they fall in can be named. A line longer than MAX_LINE_BYTES comes as (line, Problem) and
    is never held whole; a damaged gzip stream ends with a bare Problem."""
    n = 0
    with _open_binary(path) as f:
        try:
            while raw := f.readline(MAX_LINE_BYTES + 1):
                n += 1
                if len(raw) > MAX_LINE_BYTES:
                    while raw and not raw.endswith(b"\n"):  # skip the rest of it, a piece at a time
                        raw = f.readline(MAX_LINE_BYTES)
                    yield n, Problem(n, "", f"a line longer than {MAX_LINE_BYTES:,} bytes")
                    continue
                yield n, raw.decode("utf-8", errors="surrogateescape")
        except (OSError, EOFError, ValueError) as exc:  # gzip.BadGzipFile, zlib.error, a cut-off stream
            yield Problem(n + 1, "", f"the file cannot be read past here ({exc or type(exc).__name__})")


def _jsonl_records(path: Path) -> Iterator[tuple[int, Record]]:
    for item in _lines(path):
        if isinstance(item, Problem):
            yield item.line, item
            return
        n, text = item
        if isinstance(text, Problem):
            yield n, text
            continue
        if not text.strip():
            continue
        try:
            record = json.loads(text.rstrip("\r\n"))
        except json.JSONDecodeError as exc:
            yield n, Problem(n, "", f"not valid JSON ({exc.msg} at character {exc.pos + 1})")
            continue
        if not isinstance(record, dict):
            yield n, Problem(n, "", "not a JSON object")
            continue
        yield n, record


def _csv_records(path: Path) -> Iterator[tuple[int, Record]]:
    problems: list[Problem] = []

    def texts() -> Iterator[str]:
        for item in _lines(path):
            text = item if isinstance(item, Problem) else item[1]
            if isinstance(text, Problem):  # the reader cannot resume mid-record: the rest is unread
                problems.append(text)
                return
            yield text

    reader = csv.reader(texts())
    try:
        header = next(reader, None)
        if header is None:
            yield 0, problems[0] if problems else Problem(0, "", "empty: no header line")
            return
        start = reader.line_num + 1
        for values in reader:
            if not any(v.strip() for v in values):
                start = reader.line_num + 1
                continue
            if len(values) != len(header):
                yield start, Problem(start, "", f"{len(values)} values where the header has {len(header)}")
            else:
                yield start, dict(zip(header, values, strict=True))
            start = reader.line_num + 1
    except csv.Error as exc:
        yield reader.line_num, Problem(reader.line_num, "", f"not valid CSV ({exc})")
        return
    if problems:
        yield problems[0].line, problems[0]


def _parquet_records(path: Path) -> Iterator[tuple[int, Record]]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        yield 0, Problem(0, "", f"not a Parquet file ({exc})")
        return
    n = 0
    try:
        for batch in table.iter_batches(batch_size=_BATCH_ROWS):
            for record in batch.to_pylist():
                n += 1
                yield n, record
    except (pa.ArrowException, OSError) as exc:
        yield n + 1, Problem(n + 1, "", f"the file cannot be read past here ({exc})")


def _folder_records(path: Path, split: str) -> Iterator[tuple[int, Record]]:
    import datasets

    n = 0
    try:
        rows = datasets.load_dataset(str(path), split=split, streaming=True)
        for n, record in enumerate(rows, 1):
            yield n, record
    except Exception as exc:
        yield n + 1, Problem(n + 1, "", f"datasets.load_dataset cannot read it ({str(exc)[:300]})")

