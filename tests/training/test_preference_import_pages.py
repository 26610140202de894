"""Queued imports from the dashboard and the API: the upload is kept on disk under a size limit, a
worker's task makes the target or records the problems, and the page polls only its status fragment."""
from __future__ import annotations

import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from training.models import AlignmentTarget, PreferenceImport
from training.preference_files import Columns
from training.services import imports
from training.storage import import_dir

pytestmark = pytest.mark.django_db

GOOD = "".join(json.dumps(r) + "\n" for r in [
    {"judge": "ann", "prompt": "How do I say sorry?", "chosen": "Say it plainly.", "rejected": "Don't."},
    {"judge": "bo", "prompt": "Is it safe?", "chosen": "Check the label.", "rejected": "Sure."},
    {"judge": "bo", "prompt": "Hi", "chosen": "Same.", "rejected": "Same."},
]).encode()
BAD = GOOD + b'{"judge": "cy", "prompt": "", "chosen": "A.", "rejected": "B."}\n'


@pytest.fixture
def staff(client, staff_user):
    client.force_login(staff_user)
    return client


def upload(staff, data: bytes, file_name: str = "study.jsonl", **fields):
    form = {"name": "study", "map": "user=judge", "metadata": "", "ignore": "", "min_pairs_per_user": "1", **fields}
    return staff.post(reverse("dashboard:targets_import"), {**form, "file": SimpleUploadedFile(file_name, data)})


def test_an_upload_is_queued_then_the_page_shows_the_target_made(staff, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as queued:
        response = upload(staff, GOOD)
    job = PreferenceImport.objects.get()
    assert response.status_code == 302 and response["Location"].endswith(f"?job={job.pk}")
    assert len(queued) == 1  # the task, sent once the row is committed
    assert (job.status, job.size_bytes, job.columns["fields"]) == ("queued", len(GOOD), {"user": "judge"})
    assert (import_dir(job.uuid) / "study.jsonl").read_bytes() == GOOD

    page = staff.get(response["Location"])
    assert b'hx-trigger="every 1s"' in page.content and b'data-status="queued"' in page.content

    imports.preference_import_run(import_id=job.pk)  # what the worker does
    job.refresh_from_db()
    target = AlignmentTarget.objects.get()
    assert (job.status, job.target_id, job.report["pairs"], job.report["skipped"]["same_response"]) == (
        "succeeded", target.pk, 2, 1)
    assert not import_dir(job.uuid).exists()  # the upload is gone once imported

    fragment = staff.get(response["Location"], HTTP_HX_REQUEST="true")
    html = fragment.content.decode()
    assert "<form" not in html and "every 1s" not in html  # just the status, and it stops polling
    assert 'data-status="succeeded"' in html and f"{target}" in html and 'data-count="pairs">2<' in html
    assert "HX-Request" in fragment["Vary"]
    assert imports.preference_import_run(import_id=job.pk).status == "succeeded"  # a repeat is a no-op
    assert AlignmentTarget.objects.count() == 1


def test_an_import_made_while_the_broker_is_down_is_kept_and_sent_later(staff_user, monkeypatch,
                                                                       django_capture_on_commit_callbacks):
    from redis.exceptions import ConnectionError as RedisConnectionError

    from chorus import dispatch as dispatching
    from chorus.models import PendingTask

    def broker_down(*args, **kwargs):
        raise RedisConnectionError("Redis is down")

    monkeypatch.setattr(dispatching, "dispatch", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        job = imports.preference_import_create(name="s", file_name="s.jsonl", chunks=[GOOD], columns=Columns(),
                                               user=staff_user)
    job.refresh_from_db()
    kept = PendingTask.objects.get()
    assert job.status == "queued" and (kept.name, kept.args, kept.task_id) == (imports.IMPORT_TASK, [job.pk],
                                                                               job.task_id)
    assert import_dir(job.uuid).exists()  # the upload waits for the worker


def test_a_refused_file_shows_each_problem_with_its_line_and_field(staff):
    upload(staff, BAD)
    job = PreferenceImport.objects.get()
    imports.preference_import_run(import_id=job.pk)
    html = staff.get(f"{reverse('dashboard:targets_import')}?job={job.pk}", HTTP_HX_REQUEST="true").content.decode()
    assert 'data-status="failed"' in html and "nothing was imported" in html
    assert '<tr data-line="4"><td>study.jsonl</td><td>4</td><td><code>prompt</code></td><td>empty</td></tr>' in html
    assert not AlignmentTarget.objects.exists() and not import_dir(job.uuid).exists()


def test_column_names_with_bad_bytes_or_a_nul_are_reported_not_crashed_on(staff_user):
    data = b'user,prompt,chosen,rejected,caf\xe9\n' + b'ann,Hi,Yes.,No.,1\n'
    job = imports.preference_import_create(name="s", file_name="bad\x00name.csv", chunks=[data], columns=Columns(),
                                           user=staff_user)
    assert imports.preference_import_run(import_id=job.pk).status == "failed"
    job.refresh_from_db()
    assert job.file_name == "bad\\0name.csv"
    assert job.report["problems"][0] == {"file": "bad\\0name.csv", "line": 1, "field": "caf\\udce9",
                                         "message": job.report["problems"][0]["message"]}
    assert job.report["problems"][0]["message"].startswith("an unknown column")


@pytest.mark.parametrize(("fields", "file_name", "data", "error"), [
    ({"name": ""}, "study.jsonl", GOOD, "name"),
    ({"map": "user"}, "study.jsonl", GOOD, "map"),
    ({"min_pairs_per_user": "many"}, "study.jsonl", GOOD, "min_pairs_per_user"),
    ({}, "study.txt", GOOD, "format"),
    ({}, "study.jsonl", b"", "file"),
], ids=["no-name", "bad-map", "bad-minimum", "unknown-format", "empty-file"])
def test_a_bad_form_is_refused_by_field_and_queues_nothing(staff, fields, file_name, data, error):
    response = upload(staff, data, file_name=file_name, **fields)
    assert response.status_code == 400 and error in response.context["errors"]
    assert not PreferenceImport.objects.exists()


@pytest.mark.parametrize("in_memory", [0, 2_621_440], ids=["streamed-to-disk", "small-in-memory"])
def test_a_file_over_the_size_limit_is_refused(staff, settings, in_memory):
    settings.UPLOAD_MAX_BYTES = 100
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = in_memory  # 0: every upload goes through the size-limited handler
    response = upload(staff, GOOD)
    assert response.status_code == 400
    assert "larger than the limit of 100 bytes" in " ".join(response.context["errors"]["file"])
    assert not PreferenceImport.objects.exists()


def test_the_page_needs_staff(client):
    assert client.get(reverse("dashboard:targets_import")).status_code == 302


def test_the_api_queues_an_import_and_reports_how_it_went(staff_user):
    def client_with(*scopes):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=staff_user, name='t', scopes=scopes)[1]}")
        return client

    writer = client_with(Scope.WRITE_TARGETS)
    url = reverse("api:target-import")
    body = {"name": "study", "map": "user=judge", "file": SimpleUploadedFile("study.jsonl", GOOD)}
    assert client_with(Scope.READ_DATA).post(url, body, format="multipart").status_code == 403
    response = writer.post(url, {**body, "file": SimpleUploadedFile("study.jsonl", GOOD)}, format="multipart")
    assert response.status_code == 202, response.json()
    assert response.json()["status"] == "queued"
    imports.preference_import_run(import_id=response.json()["id"])
    done = writer.get(reverse("api:target-import-detail", args=[response.json()["id"]])).json()
    assert done["status"] == "succeeded" and done["target"] == AlignmentTarget.objects.get().pk
    assert done["report"]["users"] == 2

    bad = writer.post(url, {"name": "study", "map": "user=", "file": SimpleUploadedFile("s.jsonl", GOOD)},
                      format="multipart")
    assert bad.status_code == 400 and "map" in bad.json()["error"]["fields"]


def test_with_a_bucket_a_worker_on_another_host_imports_the_upload(staff, s3_bucket):
    """The web host keeps the upload in the bucket too; the worker, with nothing on its disk, fetches it,
    makes the target (its files in the bucket), and the upload leaves the bucket once imported."""
    import shutil

    upload(staff, GOOD)
    job = PreferenceImport.objects.get()
    pending = f"training/imports/{job.uuid}/study.jsonl"
    assert s3_bucket.keys(f"training/imports/{job.uuid}") == [pending] and s3_bucket.read(pending) == GOOD
    shutil.rmtree(import_dir(job.uuid))  # the worker is another host

    assert imports.preference_import_run(import_id=job.pk).status == "succeeded"
    target = AlignmentTarget.objects.get()
    assert sorted(s3_bucket.keys(f"training/targets/{target.uuid}")) == [
        f"training/targets/{target.uuid}/{name}" for name in ("preferences.jsonl", "users.jsonl")]
    assert s3_bucket.keys("training/imports") == []


def _stale(job: PreferenceImport, *, attempt: int) -> None:
    from datetime import timedelta

    from django.utils import timezone

    PreferenceImport.objects.filter(pk=job.pk).update(
        status="running", attempt=attempt, heartbeat_at=timezone.now() - timedelta(minutes=5))


def test_an_import_whose_worker_died_is_queued_again_then_imports(staff, django_capture_on_commit_callbacks):
    upload(staff, GOOD)
    job = PreferenceImport.objects.get()
    _stale(job, attempt=1)  # as a worker killed while importing leaves it: running, no longer beating
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert imports.preference_imports_reap() == {"requeued": 1, "failed": 0}
    job.refresh_from_db()
    assert (job.status, len(queued)) == ("queued", 1)
    assert (import_dir(job.uuid) / "study.jsonl").exists()  # the upload waits for the next worker

    imports.preference_import_run(import_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempt) == ("succeeded", 2) and job.target is not None


def test_an_import_that_loses_its_worker_twice_fails_with_the_reason(staff):
    upload(staff, GOOD)
    job = PreferenceImport.objects.get()
    _stale(job, attempt=2)
    assert imports.preference_imports_reap() == {"requeued": 0, "failed": 1}
    job.refresh_from_db()
    assert job.status == "failed" and "stopped 2 times without finishing" in job.report["problems"][0]["message"]
    assert not import_dir(job.uuid).exists() and not AlignmentTarget.objects.exists()
    page = staff.get(reverse("dashboard:targets_import") + f"?job={job.pk}")
    assert b"ran out of memory" in page.content


def test_a_beating_import_is_left_alone_and_a_late_worker_does_not_overwrite_the_next(staff, monkeypatch):
    from django.utils import timezone

    upload(staff, GOOD)
    job = PreferenceImport.objects.get()
    PreferenceImport.objects.filter(pk=job.pk).update(status="running", attempt=1, heartbeat_at=timezone.now())
    assert imports.preference_imports_reap() == {"requeued": 0, "failed": 0}
    assert PreferenceImport.objects.get(pk=job.pk).status == "running"

    # A worker so slow that, while it imports, the reaper gives the import to another (attempt 3).
    PreferenceImport.objects.filter(pk=job.pk).update(status="queued")
    real = imports.preferences_import

    def slow(**kwargs):
        PreferenceImport.objects.filter(pk=job.pk).update(attempt=3)
        return real(**kwargs)

    monkeypatch.setattr(imports, "preferences_import", slow)
    imports.preference_import_run(import_id=job.pk)
    late = PreferenceImport.objects.get(pk=job.pk)
    assert (late.status, late.attempt, late.finished_at) == ("running", 3, None)  # its outcome was not written


@pytest.mark.parametrize("order", ["stale_last", "stale_first"])
def test_a_stalled_attempt_finishing_after_the_requeue_publishes_nothing(staff, monkeypatch, order):
    """Attempt 1 stalls (no heartbeat, process alive) just before publishing; the reaper requeues the
    import and attempt 2 runs. Whichever finishes first, the stale attempt's target is discarded:
    one target, the one the import names, and no folder left behind."""
    from training.storage import targets_root

    upload(staff, GOOD)
    job = PreferenceImport.objects.get()
    targets_root().mkdir(parents=True, exist_ok=True)
    before = {p.name for p in targets_root().iterdir()}
    real = imports.target_publish_staged
    calls = []

    def stalling(**kwargs):
        calls.append(1)
        if len(calls) == 1:  # attempt 1, its files written: it stalls and the reaper moves on
            _stale(PreferenceImport.objects.get(pk=job.pk), attempt=1)
            assert imports.preference_imports_reap() == {"requeued": 1, "failed": 0}
            if order == "stale_last":
                assert imports.preference_import_run(import_id=job.pk).status == "succeeded"  # attempt 2
        return real(**kwargs)

    monkeypatch.setattr(imports, "target_publish_staged", stalling)
    stale = imports.preference_import_run(import_id=job.pk)
    assert stale.attempt == 1 and stale.target is None
    if order == "stale_first":
        assert (import_dir(job.uuid) / "study.jsonl").exists()  # the upload waits for attempt 2
        assert PreferenceImport.objects.get(pk=job.pk).status == "queued"
        imports.preference_import_run(import_id=job.pk)

    job.refresh_from_db()
    target = AlignmentTarget.objects.get()  # exactly one
    assert (job.status, job.attempt, job.target_id, job.report["pairs"]) == ("succeeded", 2, target.pk, 2)
    assert {p.name for p in targets_root().iterdir()} - before == {str(target.uuid)}  # the stale files are gone
    assert not import_dir(job.uuid).exists()
