"""Targets and models in an S3 bucket (CHORUS_STORAGE_URL=s3://...), against a real S3-protocol HTTP
server on loopback (tests/support/s3.py): a frozen target reaches the bucket and a host with an empty
cache fetches it checked; a model appears under its final keys all at once or not at all; a run on
the worker trains from the bucket's target files and publishes to it; and the default (no bucket)
never touches S3."""
from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from chorus import env
from training import object_store
from training.storage import model_dir, model_publish, run_dir, sha256_file, target_dir, target_file_local


def _model_folder(root: Path) -> tuple[Path, list[dict]]:
    staging = root / "staging-1"
    (staging / "eval").mkdir(parents=True)
    (staging / "config.json").write_text('{"model_type": "toy"}')
    (staging / "model.safetensors").write_bytes(bytes(range(256)) * 4096)  # 1 MiB
    (staging / "eval" / "accuracy.json").write_text('{"accuracy": 0.75}')
    files = [{"name": p.relative_to(staging).as_posix(), "sha256": sha256_file(p), "size_bytes": p.stat().st_size}
             for p in sorted(staging.rglob("*")) if p.is_file()]
    (staging / "checksums.sha256").write_text("".join(f"{f['sha256']}  {f['name']}\n" for f in files))
    return staging, files


@pytest.mark.django_db
def test_a_frozen_target_is_in_the_bucket_and_an_empty_cache_fetches_it_checked(s3_bucket, toy_target):
    files = {f.name: f for f in toy_target.files.all()}
    prefix = f"training/targets/{toy_target.uuid}"
    assert sorted(s3_bucket.keys(prefix)) == sorted(f"{prefix}/{name}" for name in files)
    for name, f in files.items():
        assert hashlib.sha256(s3_bucket.read(f"{prefix}/{name}")).hexdigest() == f.sha256

    shutil.rmtree(settings.MEDIA_ROOT)  # another host: nothing cached
    for name, f in files.items():
        local = target_file_local(toy_target.uuid, name, f.sha256)
        assert local == target_dir(toy_target.uuid) / name and sha256_file(local) == f.sha256

    # The bucket's copy changed behind our back: refused, and nothing half-fetched stays in the cache.
    shutil.rmtree(settings.MEDIA_ROOT)
    name = next(iter(files))
    s3_bucket.client().put_object(Bucket=s3_bucket.name, Key=f"{s3_bucket.prefix}/{prefix}/{name}", Body=b"{}\n")
    with pytest.raises(ValueError, match="no longer matches its sha256"):
        target_file_local(toy_target.uuid, name, files[name].sha256)
    assert not list(target_dir(toy_target.uuid).iterdir())


def test_a_model_is_published_under_its_final_keys_checksums_last(s3_bucket, tmp_path):
    run_uuid = uuid.uuid4()
    staging, files = _model_folder(run_dir(run_uuid))
    assert model_publish(staging, model_dir(run_uuid), files) == f"training/models/{run_uuid}"
    names = {f["name"] for f in files} | {"checksums.sha256"}
    assert set(s3_bucket.keys(f"training/models/{run_uuid}")) == {f"training/models/{run_uuid}/{n}" for n in names}
    for f in files:
        assert hashlib.sha256(s3_bucket.read(f"training/models/{run_uuid}/{f['name']}")).hexdigest() == f["sha256"]
    assert s3_bucket.keys("training/uploads") == []  # the temporary keys are gone
    assert not model_dir(run_uuid).exists()  # nothing renamed locally: the bucket is the store


def _fails_on_second_upload(monkeypatch):
    real, calls = object_store.upload, []

    def upload(path, sha256, *, name=None):
        calls.append(name)
        if len(calls) == 2:
            raise object_store.StorageError("connection reset mid-upload")
        real(path, sha256, name=name)

    monkeypatch.setattr(object_store, "upload", upload)


def _corrupts_one_upload(monkeypatch):
    """One file arrives with different bytes than were sent (a proxy that truncates, a bad disk)."""
    client = object_store.storage().connection.meta.client
    real = client.upload_file

    def upload_file(filename, bucket, key, *args, **kwargs):
        if key.endswith("model.safetensors"):
            truncated = Path(filename).with_suffix(".truncated")
            truncated.write_bytes(Path(filename).read_bytes()[:1000])
            filename = str(truncated)
        return real(filename, bucket, key, *args, **kwargs)

    monkeypatch.setattr(client, "upload_file", upload_file)


def _fails_between_copies(monkeypatch):
    """Every file is up and verified; the server-side copy to the final keys stops after the first."""
    client = object_store.storage().connection.meta.client
    real, calls = client.copy, []

    def copy(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise ConnectionError("the endpoint went away")
        return real(*args, **kwargs)

    monkeypatch.setattr(client, "copy", copy)


@pytest.mark.parametrize("fault", [_fails_on_second_upload, _corrupts_one_upload, _fails_between_copies])
def test_a_publication_cut_short_leaves_nothing_visible(fault, s3_bucket, monkeypatch):
    run_uuid = uuid.uuid4()
    staging, files = _model_folder(run_dir(run_uuid))
    fault(monkeypatch)
    with pytest.raises(object_store.StorageError):
        model_publish(staging, model_dir(run_uuid), files)
    assert s3_bucket.keys(f"training/models/{run_uuid}") == []
    assert s3_bucket.keys("training/uploads") == []


def test_a_retried_publication_replaces_what_a_crashed_attempt_left(s3_bucket):
    """An attempt that crashed after its copies, before the database recorded it, left keys no row names."""
    run_uuid = uuid.uuid4()
    leftover = f"{s3_bucket.prefix}/training/models/{run_uuid}/stale.bin"
    s3_bucket.client().put_object(Bucket=s3_bucket.name, Key=leftover, Body=b"old")
    staging, files = _model_folder(run_dir(run_uuid))
    model_publish(staging, model_dir(run_uuid), files)
    assert f"training/models/{run_uuid}/stale.bin" not in s3_bucket.keys(f"training/models/{run_uuid}")


def test_an_unreachable_bucket_fails_naming_the_setting(s3_bucket, settings, tmp_path):
    from tests.support.private_services import free_port

    settings.OBJECT_STORAGE = {**settings.OBJECT_STORAGE, "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    staging, files = _model_folder(tmp_path)
    with pytest.raises(object_store.StorageError, match="CHORUS_STORAGE_URL"):
        model_publish(staging, model_dir(uuid.uuid4()), files)


def test_storage_url_settings(monkeypatch, tmp_path):
    monkeypatch.delenv("CHORUS_STORAGE_URL", raising=False)
    assert env.storage_location("CHORUS_STORAGE_URL") is None  # the default: MEDIA_ROOT, as before
    monkeypatch.setenv("CHORUS_STORAGE_URL", str(tmp_path))
    assert env.storage_location("CHORUS_STORAGE_URL") == tmp_path
    monkeypatch.setenv("CHORUS_STORAGE_URL", "s3://models/chorus/prod/")
    monkeypatch.setenv("CHORUS_S3_ENDPOINT_URL", "http://minio:9000")
    options = env.storage_location("CHORUS_STORAGE_URL")
    assert (options["bucket_name"], options["location"], options["endpoint_url"]) == ("models", "chorus/prod",
                                                                                       "http://minio:9000")
    for bad in ("s3://", "gs://bucket/x"):
        monkeypatch.setenv("CHORUS_STORAGE_URL", bad)
        with pytest.raises(env.StartupError, match="CHORUS_STORAGE_URL"):
            env.storage_location("CHORUS_STORAGE_URL")
    monkeypatch.setenv("CHORUS_STORAGE_URL", "s3://models")
    monkeypatch.setenv("CHORUS_S3_ENDPOINT_URL", "minio:9000")
    with pytest.raises(env.StartupError, match="CHORUS_S3_ENDPOINT_URL"):
        env.storage_location("CHORUS_STORAGE_URL")


@pytest.mark.django_db
def test_without_a_bucket_nothing_talks_to_s3(toy_target, monkeypatch, tmp_path):
    assert not object_store.enabled()
    monkeypatch.setattr(object_store, "_client", lambda: pytest.fail("the default store is the local folder"))
    f = toy_target.files.first()
    assert target_file_local(toy_target.uuid, f.name, f.sha256) == target_dir(toy_target.uuid) / f.name
    run_uuid = uuid.uuid4()
    staging, files = _model_folder(run_dir(run_uuid))
    model_publish(staging, model_dir(run_uuid), files)
    weights = next(f for f in files if f["name"] == "model.safetensors")
    assert sha256_file(model_dir(run_uuid) / "model.safetensors") == weights["sha256"] and not staging.exists()


def _checkpoint(folder: Path, step: int, *, complete: bool) -> None:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    (path / "model.safetensors").write_bytes(bytes([step % 256]) * 2048)
    (path / "optimizer.pt").write_bytes(b"adam" * step)
    if complete:
        (path / "trainer_state.json").write_text(f'{{"global_step": {step}}}')


def test_checkpoints_go_up_once_finished_and_another_host_resumes_from_the_newest(s3_bucket):
    from training.storage import checkpoint_latest, checkpoints_drop, checkpoints_pull

    folder = run_dir(uuid.uuid4()) / "work" / "checkpoints"
    prefix = object_store.name_of(folder)
    _checkpoint(folder, 10, complete=True)
    _checkpoint(folder, 20, complete=False)  # still being written
    pushed: set[str] = set()
    object_store.checkpoints_push(folder, pushed)
    assert pushed == {"checkpoint-10"}
    assert sorted(s3_bucket.keys(prefix)) == [f"{prefix}/checkpoint-10/{n}" for n in
                                              ("model.safetensors", "optimizer.pt", "trainer_state.json")]

    (folder / "checkpoint-20" / "trainer_state.json").write_text('{"global_step": 20}')
    shutil.rmtree(folder / "checkpoint-10")  # the method keeps only the newest
    object_store.checkpoints_push(folder, pushed)
    assert pushed == {"checkpoint-20"} and {k.split("/")[-2] for k in s3_bucket.keys(prefix)} == {"checkpoint-20"}
    # A checkpoint cut short in the bucket (no trainer_state.json) is never resumed from.
    s3_bucket.client().put_object(Bucket=s3_bucket.name, Key=f"{s3_bucket.prefix}/{prefix}/checkpoint-30/model.safetensors",
                                  Body=b"half")

    shutil.rmtree(settings.MEDIA_ROOT)  # the host died; another takes the run
    assert checkpoint_latest(folder) == "checkpoint-20"  # what the reaper asks
    assert checkpoints_pull(folder) == "checkpoint-20"
    assert (folder / "checkpoint-20" / "model.safetensors").read_bytes() == bytes([20]) * 2048
    assert (folder / "checkpoint-20" / "trainer_state.json").is_file() and not (folder / "checkpoint-30").exists()
    assert checkpoints_pull(folder) is None  # this disk has one now: nothing fetched again

    checkpoints_drop(folder)  # the model is published
    assert s3_bucket.keys(prefix) == [] and not folder.exists() and checkpoint_latest(folder) is None


def test_without_a_bucket_a_run_resumes_only_from_its_own_disk(tmp_path, settings):
    from training.storage import checkpoint_latest, checkpoints_pull

    settings.MEDIA_ROOT = tmp_path
    folder = run_dir(uuid.uuid4()) / "work" / "checkpoints"
    assert checkpoint_latest(folder) is None and checkpoints_pull(folder) is None
    _checkpoint(folder, 5, complete=True)
    assert checkpoint_latest(folder) == "checkpoint-5"


@pytest.mark.django_db
def test_a_run_is_refused_before_queueing_when_the_bucket_cannot_be_reached(s3_bucket, toy_target, tiny_model_dir,
                                                                             settings, monkeypatch):
    from django.core.exceptions import ValidationError

    from tests.support.private_services import free_port
    from training.models import TrainingRun
    from training.services.runs import run_create

    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: pytest.fail("queued"))
    settings.OBJECT_STORAGE = {**settings.OBJECT_STORAGE, "endpoint_url": f"http://127.0.0.1:{free_port()}"}
    with pytest.raises(ValidationError) as refused:
        run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config={})
    assert "CHORUS_STORAGE_URL" in refused.value.message_dict["storage"][0]

    settings.OBJECT_STORAGE = {**settings.OBJECT_STORAGE, "endpoint_url": s3_bucket.endpoint,
                               "bucket_name": "no-such-bucket"}
    with pytest.raises(ValidationError) as refused:
        run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config={})
    assert "no-such-bucket" in refused.value.message_dict["storage"][0]

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):  # no credentials anywhere
        monkeypatch.delenv(name)
    for name, value in (("AWS_SHARED_CREDENTIALS_FILE", str(tmp := settings.MEDIA_ROOT) + "/none"),
                        ("AWS_CONFIG_FILE", f"{tmp}/none"), ("AWS_EC2_METADATA_DISABLED", "true")):
        monkeypatch.setenv(name, value)
    # Another region: a client made afresh (boto3 reads credentials when it makes one).
    settings.OBJECT_STORAGE = {**settings.OBJECT_STORAGE, "bucket_name": s3_bucket.name, "region_name": "eu-west-1"}
    with pytest.raises(ValidationError) as refused:
        run_create(target=toy_target, method="salmon", base_model=str(tiny_model_dir), config={})
    assert "NoCredentialsError" in refused.value.message_dict["storage"][0]
    assert not TrainingRun.objects.exists()


@pytest.mark.django_db
def test_the_page_and_the_api_name_the_unreachable_bucket(s3_bucket, toy_target, tiny_model_dir, settings, client,
                                                          staff_user, monkeypatch):
    from django.urls import reverse
    from rest_framework.test import APIClient

    from chorus.accounts.models import Scope
    from chorus.accounts.services import api_token_create

    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: pytest.fail("queued"))
    settings.OBJECT_STORAGE = {**settings.OBJECT_STORAGE, "bucket_name": "gone-bucket"}
    client.force_login(staff_user)
    page = client.post(reverse("dashboard:runs_new"), {"method": "salmon", "target": toy_target.pk,
                                                       "base_model": str(tiny_model_dir), "config.max_steps": "7"})
    assert page.status_code == 400
    assert 'data-error="storage"' in page.content.decode() and "gone-bucket" in page.content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_token_create(user=staff_user, name='t', scopes=Scope.values)[1]}")
    answer = api.post(f"/api/v1/targets/{toy_target.pk}/runs/", {"method": "salmon", "base_model": str(tiny_model_dir)},
                      format="json")
    assert answer.status_code == 400 and "CHORUS_STORAGE_URL" in answer.json()["error"]["fields"]["storage"][0]


def test_presigned_urls_name_the_public_endpoint_when_one_is_set(s3_bucket, settings):
    name = "training/models/x/config.json"
    assert object_store.presigned_url(name, filename="config.json").startswith(
        f"{s3_bucket.endpoint}/{s3_bucket.name}/chorus/{name}?")
    settings.OBJECT_STORAGE = {**settings.OBJECT_STORAGE, "public_endpoint_url": "https://files.example.org"}
    url = object_store.presigned_url(name, filename="config.json")
    assert url.startswith(f"https://files.example.org/{s3_bucket.name}/chorus/{name}?") and "X-Amz-Expires=600" in url


@pytest.mark.django_db
def test_a_trained_language_model_in_the_bucket_is_offered_as_a_base_and_fetched_checked(s3_bucket, tiny_model_dir,
                                                                                         toy_target, monkeypatch):
    from tests.support.artifacts import model_publish as publish_trained
    from training.base_models import base_model_fetch, base_models_available

    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    artifact = publish_trained(target=toy_target, base_model=tiny_model_dir, folder=tiny_model_dir)
    shutil.rmtree(settings.MEDIA_ROOT)  # the web host and the worker have nothing cached
    folder = Path(settings.MEDIA_ROOT) / artifact.path
    trained = [m for m in base_models_available() if m.source == "trained"]
    assert [m.path for m in trained] == [str(folder)]

    base_model_fetch(str(folder))
    for f in artifact.files:
        assert sha256_file(folder / f["name"]) == f["sha256"]
    from transformers import AutoModelForCausalLM

    assert AutoModelForCausalLM.from_pretrained(folder).config.vocab_size > 0
    base_model_fetch(str(tiny_model_dir))  # a prepared folder: nothing to fetch, nothing raised
