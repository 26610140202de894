"""Importing preference dataset files as preference-population targets: every row checked before
anything is written, problems named by file, line and field, bad rows refused or reported and
skipped, column mappings, and the same target from JSONL, gzip, CSV, Parquet and a datasets folder."""
from __future__ import annotations

import gzip
import hashlib
import json
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from elicitation.domain.comparisons_exports import pseudonym
from tests.support.shared_data import HH_HIDDEN_CONTEXT, needs_hh_hidden_context, shared_data
from training.models import AlignmentTarget
from training.preference_files import Columns
from training.services.imports import ImportRefused, preferences_import
from training.services.runs import run_create
from training.storage import target_dir, targets_root

pytestmark = pytest.mark.django_db

DEV_FILE = shared_data(HH_HIDDEN_CONTEXT) / "dev.jsonl.gz"

ROWS = [
    {"user": "ann", "prompt": "How do I say sorry?", "chosen": "Say it plainly.", "rejected": "Don't."},
    {"user": "ann", "prompt": "How do I calm down?", "chosen": "Breathe slowly.", "rejected": "Shout."},
    {"user": "bo", "prompt": "Is it safe?", "chosen": "Check the label.", "rejected": "Sure, whatever.",
     "system": "Be careful."},
]


def write_jsonl(path: Path, rows: list, *, compress: bool = False) -> Path:
    data = b"".join(r if isinstance(r, bytes) else json.dumps(r).encode() + b"\n" for r in rows)
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def lines(target: AlignmentTarget, name: str) -> list[dict]:
    return [json.loads(line) for line in (target_dir(target.uuid) / name).read_text().splitlines()]


def refusal(path: Path, **kwargs) -> dict:
    before = AlignmentTarget.objects.count()
    with pytest.raises(ImportRefused) as exc:
        preferences_import(name="prefs", path=path, **kwargs)
    assert AlignmentTarget.objects.count() == before
    assert not list(targets_root().glob(".import-*"))  # no half-written folder left behind
    return exc.value.report


@pytest.fixture
def opened_files():
    """Every file this process opens while the test runs (a Python audit hook cannot be removed,
    so it is one for the session that records only while a test asks)."""
    record: list[str] = []
    _AUDIT["sink"] = record
    yield record
    _AUDIT["sink"] = None


_AUDIT: dict = {"sink": None}


def _audit(event: str, args: tuple) -> None:
    if event == "open" and _AUDIT["sink"] is not None and isinstance(args[0], (str, Path)):
        _AUDIT["sink"].append(str(args[0]))


sys.addaudithook(_audit)


@needs_hh_hidden_context
def test_the_real_dev_file_imports_with_its_empty_and_identical_pairs_reported(capsys, opened_files, tiny_model_dir):
    call_command("import_preferences", str(DEV_FILE), "--name", "hh dev")
    target = AlignmentTarget.objects.get()
    assert (target.kind, target.name, target.campaign_id) == ("preference_population", "hh dev", None)
    raw = [json.loads(line) for line in gzip.open(DEV_FILE)]
    pairs = lines(target, "preferences.jsonl")
    assert target.provenance["rows"] == len(raw) == 2464
    # HH-RLHF has empty responses and identical pairs: skipped and counted, each with its line.
    assert target.provenance["skipped_empty_response"] == 4 and target.provenance["skipped_same_response"] == 2
    assert len(pairs) == target.provenance["pairs_kept"] == 2458
    assert all(p["chosen"] != p["rejected"] and p["chosen"].strip() and p["rejected"].strip() for p in pairs)
    out = capsys.readouterr().out
    assert "2458 pairs from 40 annotators" in out and "line 598, field “rejected”" in out
    # Pseudonyms as frozen targets make them, and nothing else about the annotator.
    assert {p["user"] for p in pairs} == {pseudonym(r["user"]) for r in raw}
    assert not {r["user"] for r in raw} & {p["user"] for p in pairs}
    users = lines(target, "users.jsonl")
    assert len(users) == target.provenance["users_kept"] == 40
    assert sum(u["pairs"] for u in users) == len(pairs)
    assert set(pairs[0]) == {"user", "system", "prompt", "chosen", "rejected"} and pairs[0]["system"] == ""
    files = {f.name: f for f in target.files.all()}
    for name, f in files.items():
        data = (target_dir(target.uuid) / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size_bytes
    assert not [p for p in opened_files if p.endswith("dev_users.csv")]  # analysis-only: never read
    # The same object as a frozen campaign target: every personalised method accepts it.
    for method in ("pal", "vpl", "janus"):
        run = run_create(target=target, method=method, base_model=str(tiny_model_dir), config={})
        assert run.target_id == target.pk
    call_command("import_preferences", str(DEV_FILE), "--name", "hh dev")
    again = AlignmentTarget.objects.get(version=2)
    assert again.content_sha256 == target.content_sha256  # the same file, the same hash


@needs_hh_hidden_context
@pytest.mark.parametrize("where", ["first", "middle", "last"])
def test_a_bad_row_anywhere_refuses_the_whole_file_with_its_line(tmp_path, where):
    raw = [json.loads(line) for line in gzip.open(DEV_FILE)]
    at = {"first": 0, "middle": len(raw) // 2, "last": len(raw)}[where]
    bad = {"user": "x1", "prompt": "Hello?", "chosen": "Hi."}  # no `rejected`
    path = write_jsonl(tmp_path / "dev-bad.jsonl.gz", [*raw[:at], bad, *raw[at:]], compress=True)
    report = refusal(path)
    assert report["refused"] == 1
    assert report["problems"] == [{"file": "dev-bad.jsonl.gz", "line": at + 1, "field": "rejected",
                                   "message": "missing"}]
    assert report["rows"] == len(raw) + 1  # every row was checked


def test_every_problem_is_listed_not_only_the_first(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [ROWS[0], {**ROWS[1], "prompt": " "}, ROWS[2], {**ROWS[0], "user": ""}])
    report = refusal(path)
    assert [(p["line"], p["field"], p["message"]) for p in report["problems"]] == [
        (2, "prompt", "empty"), (4, "user", "empty")]


@pytest.mark.parametrize(("row", "field", "message"), [
    ({"user": "ann", "prompt": "Hi", "chosen": "Hello."}, "rejected", "missing"),
    ({"user": "ann", "prompt": "Hi", "chosen": "Hello.", "rejected": None}, "rejected", "missing"),
    ({"user": "", "prompt": "Hi", "chosen": "Hello.", "rejected": "Go."}, "user", "empty"),
    ({"user": "ann", "prompt": "   ", "chosen": "Hello.", "rejected": "Go."}, "prompt", "empty"),
    ({"user": "ann", "prompt": 7, "chosen": "Hello.", "rejected": "Go."}, "prompt", "not text (a int)"),
    ({"user": "ann", "prompt": "Hi", "chosen": "Hello.", "rejected": "Go.", "score": 3}, "score",
     "an unknown column: map it to a field, keep it as metadata or ignore it"),
    ({"user": "ann", "prompt": "Hi\ud800", "chosen": "Hello.", "rejected": "Go."}, "prompt", "not UTF-8 text"),
    (b'{"user": "ann", "prompt": "Caf\xe9", "chosen": "Hello.", "rejected": "Go."}\n', "prompt",
     "not UTF-8 text"),
    (b'{"user": "ann", "prompt": \n', "", "not valid JSON (Expecting value at character 27)"),
    (b'["ann", "Hi", "Hello.", "Go."]\n', "", "not a JSON object"),
], ids=["missing", "null", "empty-user", "empty-prompt", "not-text", "unknown-column", "lone-surrogate",
        "latin-1-bytes", "bad-json", "not-an-object"])
def test_each_bad_row_is_refused_with_its_line_and_field(tmp_path, row, field, message):
    path = write_jsonl(tmp_path / "p.jsonl", [*ROWS, row])
    report = refusal(path)
    assert report["problems"] == [{"file": "p.jsonl", "line": 4, "field": field, "message": message}]


def test_an_unknown_column_is_reported_once_at_its_first_line(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [ROWS[0], *({**r, "score": 1, "lang": "en"} for r in ROWS)])
    report = refusal(path)
    assert [(p["line"], p["field"]) for p in report["problems"]] == [(2, "lang")]
    assert "also score" in report["problems"][0]["message"]


def test_empty_and_identical_responses_are_skipped_and_an_annotator_left_with_none_is_counted(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [
        *ROWS,
        {"user": "cy", "prompt": "Hi", "chosen": "", "rejected": "Hello."},
        {"user": "cy", "prompt": "Hi", "chosen": "Same.", "rejected": "Same."},
    ])
    target, report = preferences_import(name="prefs", path=path)
    assert (report["pairs"], report["users"], report["users_without_pairs"]) == (3, 2, 1)
    assert report["skipped"] == {"empty_response": 1, "same_response": 1}
    assert [(r["line"], r["field"]) for r in report["skipped_rows"]] == [(4, "chosen"), (5, "rejected")]
    assert pseudonym("cy") not in {u["user"] for u in lines(target, "users.jsonl")}
    assert target.provenance["users_without_pairs"] == 1


def test_a_file_with_no_pair_left_is_refused(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", [{"user": "cy", "prompt": "Hi", "chosen": "Same.", "rejected": "Same."}])
    assert refusal(path)["problems"][0]["message"] == "no annotator has a pair to learn from"


def test_annotators_below_the_minimum_are_left_out_and_counted(tmp_path):
    path = write_jsonl(tmp_path / "p.jsonl", ROWS)
    target, report = preferences_import(name="prefs", path=path, min_pairs_per_user=2)
    assert {u["user"] for u in lines(target, "users.jsonl")} == {pseudonym("ann")}
    assert (report["pairs"], report["users_below_min_pairs"]) == (2, 1)
    assert "lower the minimum" in refusal(path, min_pairs_per_user=3)["problems"][0]["message"]


def test_a_column_mapping_reads_other_names_and_keeps_metadata(tmp_path):
    rows = [{"judge": r["user"], "question": r["prompt"], "winner": r["chosen"], "loser": r["rejected"],
             "persona": r.get("system", ""), "model": "m1", "turn": 1} for r in ROWS]
    path = write_jsonl(tmp_path / "study.jsonl", rows)
    columns = Columns.parse("user=judge,prompt=question,chosen=winner,rejected=loser,system=persona",
                            metadata="model", ignore="turn")
    target, report = preferences_import(name="prefs", path=path, columns=columns)
    pairs = lines(target, "preferences.jsonl")
    assert pairs[2] == {"user": pseudonym("bo"), "system": "Be careful.", "prompt": "Is it safe?",
                        "chosen": "Check the label.", "rejected": "Sure, whatever.", "metadata": {"model": "m1"}}
    assert target.provenance["columns"]["fields"]["user"] == "judge"
    # Without the mapping the same file names what it does not know.
    assert refusal(path)["problems"][0]["field"] in {"judge", "loser", "model", "persona", "question", "turn", "winner"}


def test_the_command_takes_a_mapping_and_prints_each_problem(tmp_path):
    path = write_jsonl(tmp_path / "study.jsonl", [
        {"judge": "ann", "question": "Hi", "chosen": "Hello.", "rejected": "Go."},
        {"judge": "ann", "question": "", "chosen": "Hello.", "rejected": "Go."},
    ])
    with pytest.raises(CommandError) as exc:
        call_command("import_preferences", str(path), "--name", "s", "--map", "user=judge,prompt=question")
    assert "study.jsonl, line 2, field “question”: empty" in str(exc.value)
    with pytest.raises(CommandError, match="field=column"):
        call_command("import_preferences", str(path), "--name", "s", "--map", "user")
    assert not AlignmentTarget.objects.exists()


def test_jsonl_gzip_csv_parquet_and_a_datasets_folder_make_the_same_target(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    full = [{"system": "", **r} for r in ROWS]
    write_jsonl(tmp_path / "p.jsonl", ROWS)
    write_jsonl(tmp_path / "p.jsonl.gz", ROWS, compress=True)
    csv_text = "user,prompt,chosen,rejected,system\n" + "".join(
        f'{r["user"]},"{r["prompt"]}","{r["chosen"]}","{r["rejected"]}",{r["system"]}\n' for r in full)
    (tmp_path / "p.csv").write_text(csv_text)
    (tmp_path / "p.csv.gz").write_bytes(gzip.compress(csv_text.encode()))
    pq.write_table(pa.Table.from_pylist(full), tmp_path / "p.parquet")
    (tmp_path / "folder").mkdir()
    write_jsonl(tmp_path / "folder" / "train.jsonl", full)
    hashes = {}
    for name in ("p.jsonl", "p.jsonl.gz", "p.csv", "p.csv.gz", "p.parquet", "folder"):
        target, report = preferences_import(name=name, path=tmp_path / name)
        assert report["pairs"] == 3, name
        hashes[name] = target.content_sha256
    assert len(set(hashes.values())) == 1, hashes


def test_csv_lines_are_the_files_own_and_bad_bytes_are_named(tmp_path):
    path = tmp_path / "p.csv"
    path.write_bytes(b'user,prompt,chosen,rejected\nann,"Two\nlines",Yes.,No.\nann,Caf\xe9,Yes.,No.\nbo,Hi,Yes.\n')
    report = refusal(path)
    assert [(p["line"], p["field"], p["message"]) for p in report["problems"]] == [
        (4, "prompt", "not UTF-8 text"), (5, "", "3 values where the header has 4")]


def test_parquet_rows_are_checked_like_any_other(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([*ROWS[:2], {**ROWS[0], "chosen": None, "system": None}]),
                   tmp_path / "p.parquet")
    assert refusal(tmp_path / "p.parquet")["problems"][0] == {
        "file": "p.parquet", "line": 3, "field": "chosen", "message": "missing"}
    pq.write_table(pa.Table.from_pylist([{**ROWS[0], "prompt": b"Caf\xe9"}]), tmp_path / "binary.parquet")
    assert refusal(tmp_path / "binary.parquet")["problems"][0] == {
        "file": "binary.parquet", "line": 1, "field": "prompt", "message": "not UTF-8 text (byte 4)"}
    (tmp_path / "fake.parquet").write_bytes(b"not parquet at all")
    assert refusal(tmp_path / "fake.parquet")["problems"][0]["message"].startswith("not a Parquet file")


def test_a_damaged_gzip_file_is_refused_where_it_breaks(tmp_path):
    data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in ROWS * 50))
    path = tmp_path / "p.jsonl.gz"
    path.write_bytes(data[: len(data) // 2])
    problem = refusal(path)["problems"][-1]
    assert problem["field"] == "" and "cannot be read past here" in problem["message"]


def test_a_line_too_long_to_hold_is_refused_without_reading_it_whole(tmp_path, monkeypatch):
    from training import preference_files

    monkeypatch.setattr(preference_files, "MAX_LINE_BYTES", 1000)
    long = {**ROWS[0], "chosen": "x" * 5000}
    report = refusal(write_jsonl(tmp_path / "p.jsonl", [ROWS[0], long, ROWS[1], long]))
    assert [(p["line"], p["message"]) for p in report["problems"]] == [(2, "a line longer than 1,000 bytes"),
                                                                        (4, "a line longer than 1,000 bytes")]
    assert report["rows"] == 4
