"""Importing a preference dataset file (training.preference_files) as a preference-population target.

Two passes over the file. The first checks every row and counts each annotator's pairs, writing
nothing. Only a file with no refused row gets the second, which writes the target's files into a
hidden folder beside the targets, renamed into place in one step and then recorded
(`target_publish_staged`). Neither pass holds more than one row, besides a count per annotator.

Annotators are pseudonymised as in frozen campaign targets (`pseudonym`), so an imported target is
the same object as a frozen one: `preferences.jsonl` rows {user, system, prompt, chosen, rejected}
(plus `metadata` when kept) and `users.jsonl` rows {user, system, pairs}.
"""
from __future__ import annotations

import hashlib
import logging
import os
import shutil
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from chorus.dispatch import dispatch_or_keep
from elicitation.domain.comparisons_exports import pseudonym
from training.models import AlignmentTarget, PreferenceImport
from training.preference_files import (
    SKIP_KEYS,
    Columns,
    ColumnsError,
    Problem,
    checked_rows,
    detect_format,
    storable,
)
from training.services.targets import (
    MAX_MIN_PAIRS_PER_USER,
    FileStats,
    jsonl_line,
    target_publish_staged,
)
from training.storage import import_dir, pending_discard, pending_fetch, pending_upload, targets_root

log = logging.getLogger(__name__)

IMPORT_TASK = "training.tasks.preference_import_run"  # by name: services do not import tasks
IMPORT_HEARTBEAT_SECONDS = 15.0
IMPORT_STALE_AFTER = timedelta(minutes=2)  # eight missed beats: the worker is gone
IMPORT_ATTEMPTS = 2  # a file that loses its worker twice (e.g. runs it out of memory) is failed
WORKER_LOST = ("The worker importing this file stopped {attempts} times without finishing (it was restarted, or ran "
               "out of memory), so nothing was imported. Try again with a smaller file, or give the worker more "
               "memory.")
MAX_PROBLEMS_LISTED = 100
MAX_SKIPPED_LISTED = 20


class ImportSuperseded(Exception):
    """This attempt no longer owns the import (the reaper gave it to another): it publishes nothing."""


class ImportRefused(Exception):
    """The file was refused; `report` says why, row by row (line and field)."""

    def __init__(self, report: dict[str, Any]):
        super().__init__(f"{report['refused']} problem(s) in {report['file']}")
        self.report = report


@dataclass
class _Check:
    file: str
    rows: int = 0
    refused: int = 0
    problems: list[dict] = field(default_factory=list)
    skipped: Counter = field(default_factory=Counter)
    skipped_rows: list[dict] = field(default_factory=list)
    pairs: Counter = field(default_factory=Counter)  # annotator id as in the file -> pairs kept

    def add(self, line: int, problem: Problem | None, pair) -> None:
        if line:
            self.rows += 1
        if problem is not None and not problem.skipped:
            self.refused += 1
            if len(self.problems) < MAX_PROBLEMS_LISTED:
                self.problems.append(problem.as_dict(self.file))
            return
        if problem is not None:
            self.skipped[SKIP_KEYS[problem.message]] += 1
            if len(self.skipped_rows) < MAX_SKIPPED_LISTED:
                self.skipped_rows.append(problem.as_dict(self.file))
            self.pairs[pair.user] += 0  # seen, so counted if they end with no pairs
            return
        self.pairs[pair.user] += 1

    def report(self, min_pairs: int) -> dict[str, Any]:
        kept = [n for n in self.pairs.values() if n >= min_pairs]
        return {
            "file": self.file, "rows": self.rows, "refused": self.refused, "problems": self.problems,
            "pairs": sum(kept), "users": len(kept),
            "skipped": {key: self.skipped[key] for key in SKIP_KEYS.values()}, "skipped_rows": self.skipped_rows,
            "users_without_pairs": sum(1 for n in self.pairs.values() if n == 0),
            "users_below_min_pairs": sum(1 for n in self.pairs.values() if 0 < n < min_pairs),
            "min_pairs_per_user": min_pairs,
        }


def preferences_import(*, name: str, path: Path, fmt: str | None = None, columns: Columns | None = None,
                       min_pairs_per_user: int = 1, file_label: str | None = None, split: str = "train",
                       user=None, claim: Callable[[AlignmentTarget, dict[str, Any]], None] | None = None,
                       ) -> tuple[AlignmentTarget, dict[str, Any]]:
    """Checks every row of the file at `path`, then imports it as a new version of target `name`.
    Raises ValidationError for bad arguments and ImportRefused (with the report) for a bad file;
    either way nothing is written. Returns the target and the report (counts, skipped rows).
    `claim(target, report)` runs inside the transaction that records the target (see
    `target_publish_staged`): raising there discards the target."""
    columns = columns or Columns()
    _check_arguments(name=name, min_pairs_per_user=min_pairs_per_user)
    fmt = fmt or _format(path)
    label = storable(file_label or path.name)
    check = _Check(file=label)
    for line, pair, problem in checked_rows(path, fmt, columns, split=split):
        check.add(line, problem, pair)
    report = check.report(min_pairs_per_user)
    if not check.refused and not report["pairs"]:
        report["refused"] = 1
        report["problems"] = [Problem(0, "", "no annotator has a pair to learn from" if min_pairs_per_user == 1 else
                                      f"no annotator has {min_pairs_per_user} or more pairs: lower the minimum"
                                      ).as_dict(label)]
    if report["refused"]:
        raise ImportRefused(report)
    kept = {u for u, n in check.pairs.items() if n >= min_pairs_per_user}
    staging, stats = _write(path, fmt, columns, kept=kept, split=split)
    provenance = {"imported_from": label, "format": fmt, "columns": columns.as_dict(), "rows": report["rows"],
                  "pairs_kept": report["pairs"], "users_kept": report["users"],
                  **{f"skipped_{key}": n for key, n in report["skipped"].items()},
                  "users_without_pairs": report["users_without_pairs"],
                  "users_below_min_pairs": report["users_below_min_pairs"], "min_pairs_per_user": min_pairs_per_user}
    try:
        target = target_publish_staged(
            staging=staging, stats=stats, name=name, kind=AlignmentTarget.Kind.PREFERENCE_POPULATION,
            provenance=provenance, user=user,
            source_label=f"Imported from “{label}”: {report['pairs']} pairs from {report['users']} annotators",
            claim=None if claim is None else lambda target: claim(target, report))
    finally:
        shutil.rmtree(staging, ignore_errors=True)  # gone already unless the publish failed
    return target, report


def _check_arguments(*, name: str, min_pairs_per_user: int) -> None:
    if not name.strip() or len(name.strip()) > 200:
        raise ValidationError({"name": "Give the target a name of 1 to 200 characters."})
    if not 1 <= min_pairs_per_user <= MAX_MIN_PAIRS_PER_USER:
        raise ValidationError({"min_pairs_per_user": f"Give a number from 1 to {MAX_MIN_PAIRS_PER_USER}."})


def _format(path: Path) -> str:
    try:
        return detect_format(path)
    except ColumnsError as exc:
        raise ValidationError({"format": str(exc)}) from None


def _write(path: Path, fmt: str, columns: Columns, *, kept: set[str], split: str) -> tuple[Path, dict[str, FileStats]]:
    """The second pass: the target's files in a hidden folder, and their hashes, sizes and rows."""
    targets_root().mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=targets_root()))  # beside the targets: renamed in
    try:
        users: dict[str, list] = {}  # pseudonym -> [the system message of their last pair, pairs]
        with _HashingFile(staging / "preferences.jsonl") as out:
            for _, pair, problem in checked_rows(path, fmt, columns, split=split):
                if problem is not None and not problem.skipped:
                    raise ValidationError({"file": "The file changed while it was being imported."})
                if problem is not None or pair.user not in kept:
                    continue
                user = pseudonym(pair.user)
                row = {"user": user, "system": pair.system, "prompt": pair.prompt, "chosen": pair.chosen,
                       "rejected": pair.rejected}
                if pair.metadata:
                    row["metadata"] = pair.metadata
                out.write_line(jsonl_line(row))
                entry = users.setdefault(user, ["", 0])
                entry[0], entry[1] = pair.system, entry[1] + 1
        with _HashingFile(staging / "users.jsonl") as users_out:
            for user, (system, count) in sorted(users.items()):
                users_out.write_line(jsonl_line({"user": user, "system": system, "pairs": count}))
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return staging, {"preferences.jsonl": out.stats(), "users.jsonl": users_out.stats()}


class _HashingFile:
    """A file written line by line, hashed and counted on the way, synced to disk on close."""

    def __init__(self, path: Path):
        self.path, self.digest, self.size, self.rows = path, hashlib.sha256(), 0, 0

    def __enter__(self) -> _HashingFile:
        self.file = open(self.path, "wb")
        return self

    def write_line(self, data: bytes) -> None:
        self.file.write(data)
        self.digest.update(data)
        self.size += len(data)
        self.rows += 1

    def __exit__(self, *exc) -> None:
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()

    def stats(self) -> FileStats:
        return FileStats(self.digest.hexdigest(), self.size, self.rows)


# Imports queued from the dashboard or the API ----------------------------------------------------


def preference_import_create(*, name: str, file_name: str, chunks: Iterable[bytes], columns: Columns,
                             min_pairs_per_user: int = 1, user=None) -> PreferenceImport:
    """Keeps the uploaded file on disk and queues its import (`training.tasks.preference_import_run`)."""
    _check_arguments(name=name, min_pairs_per_user=min_pairs_per_user)
    file_name = storable(Path(file_name).name)[:255] or "upload"
    fmt = _format(Path(file_name))
    if fmt == "folder":
        raise ValidationError({"file": "Upload one file; folders import with manage.py import_preferences."})
    job = PreferenceImport(name=name.strip(), file_name=file_name, format=fmt, size_bytes=0,
                           columns=columns.as_dict(), min_pairs_per_user=min_pairs_per_user, created_by=user)
    folder = import_dir(job.uuid)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        job.size_bytes = _save(folder / file_name, chunks)
        pending_upload(folder / file_name)  # for the worker that imports it, when it is on another host
        with transaction.atomic():
            job.save()
            job.task_id = f"preference-import-{job.uuid}"
            job.save(update_fields=["task_id"])
            transaction.on_commit(lambda: _dispatch(job))
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return job


def _dispatch(job: PreferenceImport) -> None:
    """Queues the import; with the broker down it is kept and sent later (chorus.dispatch), and its
    page keeps saying "queued" until a worker takes it."""
    dispatch_or_keep(IMPORT_TASK, job.pk, task_id=job.task_id)


def _save(path: Path, chunks: Iterable[bytes]) -> int:
    limit = settings.UPLOAD_MAX_BYTES
    size = 0
    with open(path, "wb") as f:
        for chunk in chunks:
            size += len(chunk)
            if size > limit:
                raise ValidationError({"file": f"The file is larger than the limit of {limit:,} bytes."})
            f.write(chunk)
    if not size:
        raise ValidationError({"file": "The file is empty."})
    return size


def preference_import_run(*, import_id: int) -> PreferenceImport | None:
    """Runs a queued import (the task's body). A finished or running import is left alone.

    While it runs, a thread beats every IMPORT_HEARTBEAT_SECONDS; an import whose worker stopped
    beating is queued again or failed by `preference_imports_reap`, even if that worker is only stalled
    and finishes later. So only the attempt that still owns the import (its status running, its
    `attempt` this one's) may publish a target: the ownership is checked under the import's row lock
    in the transaction that records the target, and the outcome is written in it too. A superseded
    attempt discards its files and writes nothing, and leaves the upload to the attempt that owns it."""
    with transaction.atomic():
        job = PreferenceImport.objects.select_for_update().filter(pk=import_id).first()
        if job is None or job.status != PreferenceImport.Status.QUEUED:
            return job
        job.status, job.attempt, job.heartbeat_at = PreferenceImport.Status.RUNNING, job.attempt + 1, timezone.now()
        job.save(update_fields=["status", "attempt", "heartbeat_at"])
    folder = import_dir(job.uuid)
    beat = _Heartbeat(job)
    try:
        pending_fetch(folder / job.file_name)
        target, report = preferences_import(
            name=job.name, path=folder / job.file_name, fmt=job.format, columns=Columns.from_dict(job.columns),
            min_pairs_per_user=job.min_pairs_per_user, file_label=job.file_name, user=job.created_by,
            claim=lambda target, report: _succeed(job, target, report))
    except ImportSuperseded:
        log.warning("import %s: attempt %s was superseded; its target was discarded", job.pk, job.attempt)
        owned = False
    except ImportRefused as exc:
        owned = _finish(job, PreferenceImport.Status.FAILED, exc.report)
    except (ValidationError, ColumnsError) as exc:
        messages = exc.messages if isinstance(exc, ValidationError) else [str(exc)]
        owned = _finish(job, PreferenceImport.Status.FAILED, _refusal(job, *messages))
    except Exception:
        log.exception("preference import failed", extra={"import": job.pk})
        owned = _finish(job, PreferenceImport.Status.FAILED,
                        _refusal(job, "The import stopped on an error of ours; the log has it."))
    else:
        job.status, job.report, job.target = PreferenceImport.Status.SUCCEEDED, report, target
        owned = True
    finally:
        beat.stop()
    if owned:  # a superseded attempt leaves the upload to the attempt that now owns the import
        shutil.rmtree(folder, ignore_errors=True)
        pending_discard(folder / job.file_name)
    return job


def _succeed(job: PreferenceImport, target: AlignmentTarget, report: dict[str, Any]) -> None:
    """Inside the transaction recording `target`: the import's outcome, if this attempt still owns it."""
    owner = _owned(job).select_for_update()
    if owner.first() is None:  # locks the row: the reaper cannot requeue it until this commits
        raise ImportSuperseded()
    job.finished_at = timezone.now()
    owner.update(status=PreferenceImport.Status.SUCCEEDED, report=report, target=target, finished_at=job.finished_at)


def _finish(job: PreferenceImport, status: str, report: dict[str, Any]) -> bool:
    """A failed attempt's outcome, written only if the attempt still owns the import; says whether it did."""
    job.status, job.report, job.finished_at = status, report, timezone.now()
    return bool(_owned(job).update(status=status, report=report, finished_at=job.finished_at))


def _owned(job: PreferenceImport):
    """The import's row while this attempt still owns it (running, in this attempt); empty otherwise."""
    return PreferenceImport.objects.filter(pk=job.pk, status=PreferenceImport.Status.RUNNING, attempt=job.attempt)


def _refusal(job: PreferenceImport, *messages: str) -> dict[str, Any]:
    return {"file": job.file_name, "refused": 1,
            "problems": [Problem(0, "", m).as_dict(job.file_name) for m in messages]}


class _Heartbeat:
    """Marks the import alive every IMPORT_HEARTBEAT_SECONDS from a thread of its own."""

    def __init__(self, job: PreferenceImport) -> None:
        self.job, self.done = job, threading.Event()
        self.thread = threading.Thread(target=self._beat, name=f"import-{job.pk}-heartbeat", daemon=True)
        self.thread.start()

    def _beat(self) -> None:
        try:
            while not self.done.wait(IMPORT_HEARTBEAT_SECONDS):
                try:
                    PreferenceImport.objects.filter(pk=self.job.pk, attempt=self.job.attempt).update(
                        heartbeat_at=timezone.now())
                except DatabaseError:  # a blip: the next beat tries again
                    log.warning("import %s: heartbeat failed", self.job.pk)
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.done.set()
        self.thread.join()


def preference_imports_reap(*, stale_after: timedelta = IMPORT_STALE_AFTER) -> dict[str, int]:
    """Imports whose worker stopped beating (killed, restarted, out of memory) are queued again once;
    one that loses its worker a second time is failed with the reason, and its upload deleted.
    Run by Celery beat (training.tasks.preference_imports_reap)."""
    counts = {"requeued": 0, "failed": 0}
    cutoff = timezone.now() - stale_after
    for pk in PreferenceImport.objects.filter(status=PreferenceImport.Status.RUNNING,
                                              heartbeat_at__lt=cutoff).values_list("pk", flat=True):
        with transaction.atomic():
            job = PreferenceImport.objects.select_for_update().filter(
                pk=pk, status=PreferenceImport.Status.RUNNING, heartbeat_at__lt=cutoff).first()
            if job is None:
                continue
            if job.attempt < IMPORT_ATTEMPTS:
                job.status, job.heartbeat_at = PreferenceImport.Status.QUEUED, None
                job.save(update_fields=["status", "heartbeat_at"])
                transaction.on_commit(lambda job=job: _dispatch(job))
                counts["requeued"] += 1
                continue
            job.status, job.finished_at = PreferenceImport.Status.FAILED, timezone.now()
            job.report = _refusal(job, WORKER_LOST.format(attempts=job.attempt))
            job.save(update_fields=["status", "report", "finished_at"])
            counts["failed"] += 1
        folder = import_dir(job.uuid)
        shutil.rmtree(folder, ignore_errors=True)
        pending_discard(folder / job.file_name)
    return counts
