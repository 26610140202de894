"""Every frozen target's files download over the API with read:data, by header or by a signed link
for clients that cannot send one; runs list the base models they may start from (issue 14, item 7)."""
from __future__ import annotations

import hashlib
import io
import shutil
import tarfile

import httpx2
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create, api_token_revoke
from elicitation.services.moral_graph import graph_snapshot_create
from tests.factories import CampaignFactory, make_edge_vote, make_participant
from tests.support.seed import seed_peer_values
from training.services.targets import target_freeze_moral_graph
from training.storage import target_dir

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def client_for(user, *scopes):
    client = APIClient()
    token, plaintext = api_token_create(user=user, name="t", scopes=scopes)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    client.token = token
    return client


@pytest.fixture
def graph_target():
    campaign = CampaignFactory()
    cards = seed_peer_values(campaign.questions.get(), stories=0)
    context = campaign.contexts.get()
    for _ in range(3):
        make_edge_vote(make_participant(campaign), cards[0], cards[1], context)
    return target_freeze_moral_graph(name="graph", snapshot_id=graph_snapshot_create(campaign=campaign).pk)


def test_a_moral_graph_targets_files_download_by_header_and_by_signed_link(staff_user, graph_target):
    reader = client_for(staff_user, Scope.READ_DATA)
    files = {f["name"]: f for f in reader.get(f"/api/v1/targets/{graph_target.pk}/").json()["files"]}
    assert set(files) == {"values.jsonl", "edges.jsonl", "contexts.jsonl"}
    on_disk = (target_dir(graph_target.uuid) / "edges.jsonl").read_bytes()

    by_header = reader.get(files["edges.jsonl"]["url"])
    assert by_header.status_code == 200 and b"".join(by_header.streaming_content) == on_disk
    assert by_header["Content-Type"] == "application/x-ndjson"

    signed = APIClient().get(files["edges.jsonl"]["signed_url"])  # no Authorization header
    assert signed.status_code == 200 and b"".join(signed.streaming_content) == on_disk
    other_file = files["edges.jsonl"]["signed_url"].replace("edges.jsonl", "values.jsonl")
    assert APIClient().get(other_file).status_code == 401  # a link opens its own file only
    api_token_revoke(token=reader.token)
    assert APIClient().get(files["edges.jsonl"]["signed_url"]).status_code == 401


def test_target_files_need_read_data_and_exist(staff_user, graph_target):
    url = f"/api/v1/targets/{graph_target.pk}/files/values.jsonl"
    assert client_for(staff_user, Scope.READ_MODELS).get(url).status_code == 403
    assert APIClient().get(url).status_code == 401
    reader = client_for(staff_user, Scope.READ_DATA)
    assert reader.get(f"/api/v1/targets/{graph_target.pk}/files/..%2Fsecret").status_code == 404
    assert reader.get(f"/api/v1/targets/{graph_target.pk}/files/prompts.jsonl").status_code == 404
    assert reader.get(f"/api/v1/targets/{graph_target.pk + 1}/files/values.jsonl").status_code == 404


def test_base_models_are_listed_and_a_run_must_start_from_one(staff_user, settings, tmp_path):
    from tests.support.artifacts import toy_target
    from tests.support.tiny_models import build_tiny_llama

    folder = build_tiny_llama(tmp_path / "models" / "tiny")
    settings.CHORUS_BASE_MODEL_DIRS = [tmp_path / "models"]
    runner = client_for(staff_user, Scope.WRITE_RUNS)
    assert runner.get("/api/v1/base-models/").json() == [
        {"path": str(folder), "label": "tiny (prepared)", "source": "prepared"}]
    target = toy_target()
    response = runner.post(f"/api/v1/targets/{target.pk}/runs/", {"method": "salmon", "base_model": "/etc"},
                           format="json")
    assert response.status_code == 400 and "base_model" in response.json()["error"]["fields"]


def test_with_a_bucket_target_files_redirect_to_it_and_the_tar_streams_from_it(s3_bucket, staff_user, graph_target,
                                                                               client):
    """The host serving the request has nothing cached: the API and the dashboard send the file from the
    bucket (a presigned URL), by header and by signed link."""
    shutil.rmtree(settings.MEDIA_ROOT)
    stored = {f.name: f.sha256 for f in graph_target.files.all()}
    reader = client_for(staff_user, Scope.READ_DATA)
    files = {f["name"]: f for f in reader.get(f"/api/v1/targets/{graph_target.pk}/").json()["files"]}
    for answer in (reader.get(files["edges.jsonl"]["url"]), APIClient().get(files["edges.jsonl"]["signed_url"])):
        assert answer.status_code == 302 and answer["Location"].startswith(f"{s3_bucket.endpoint}/{s3_bucket.name}/")
        assert hashlib.sha256(httpx2.get(answer["Location"]).content).hexdigest() == stored["edges.jsonl"]
    assert APIClient().get(files["edges.jsonl"]["url"]).status_code == 401  # no token: no URL to the bucket

    client.force_login(staff_user)
    page = client.get(f"/dashboard/targets/{graph_target.pk}/files/values.jsonl")
    assert page.status_code == 302 and hashlib.sha256(httpx2.get(page["Location"]).content).hexdigest() == \
        stored["values.jsonl"]
    tar = b"".join(client.get(f"/dashboard/targets/{graph_target.pk}/download/").streaming_content)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers()}
    assert {name: hashlib.sha256(data).hexdigest() for name, data in members.items()} == stored
