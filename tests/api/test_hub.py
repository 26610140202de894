"""The Hugging Face Hub-compatible endpoints, driven by the real huggingface_hub and transformers
clients against a live Chorus: snapshot_download + from_pretrained, hf_hub_download, revisions,
Range requests, the Hub's error shapes, and scopes."""
from __future__ import annotations

import hashlib
import io
import tarfile
from pathlib import Path

import httpx2
import pytest
import torch
from django.template import Context, Template
from django.test import RequestFactory
from huggingface_hub import HfApi, hf_hub_download, snapshot_download
from huggingface_hub.errors import (
    HfHubHTTPError,
    LocalEntryNotFoundError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)
from huggingface_hub.file_download import http_get
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from chorus.api.hub_repos import artifact_commit, hub_repo_id, target_slugs
from tests.support.artifacts import model_publish, toy_target
from tests.support.tiny_models import build_tiny_llama

TEXT = "Principles:\n- Be kind.\nPrompt: How do I say sorry?\nResponse: Say it plainly.<|im_end|>"


@pytest.fixture(scope="module")
def reward_models(tmp_path_factory) -> list[Path]:
    """Two SALMON-shaped reward models (a Llama sequence classifier with one output) that score
    differently, plus a file in a subfolder as published models may have."""
    base = build_tiny_llama(tmp_path_factory.mktemp("base"))
    folders = []
    for seed in (1, 2):
        folder = tmp_path_factory.mktemp(f"reward-{seed}")
        torch.manual_seed(seed)  # the score head starts random: a different model per seed
        AutoModelForSequenceClassification.from_pretrained(base, num_labels=1).save_pretrained(folder)
        AutoTokenizer.from_pretrained(base).save_pretrained(folder)
        (folder / "eval").mkdir()
        (folder / "eval" / "accuracy.json").write_text(f'{{"seed": {seed}}}')
        folders.append(folder)
    return [base, *folders]


@pytest.fixture
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def published(media, reward_models, monkeypatch):
    """Two models of one repo: v1 (seed 1), then v2 (seed 2)."""
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    base, first, second = reward_models
    target = toy_target()
    return [model_publish(target=target, base_model=base, folder=first),
            model_publish(target=target, base_model=base, folder=second)]


def _token(user, scopes) -> str:
    return api_token_create(user=user, name="hub", scopes=scopes)[1]


@pytest.fixture
def hub(live_server, staff_user):
    return {"endpoint": f"{live_server.url}/hf", "token": _token(staff_user, [Scope.READ_MODELS])}


def _scores(folder) -> torch.Tensor:
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    with torch.no_grad():
        return model(**tokenizer([TEXT, "Hello!"], return_tensors="pt", padding=True)).logits


def _stored(artifact) -> Path:
    from django.conf import settings

    return Path(settings.MEDIA_ROOT) / artifact.path


@pytest.mark.django_db(transaction=True)
def test_snapshot_download_then_from_pretrained_scores_like_the_stored_model(published, hub, tmp_path):
    v1, v2 = published
    repo_id = hub_repo_id(v2)
    assert repo_id == "chorus/toy-constitution-salmon"
    folder = Path(snapshot_download(repo_id, cache_dir=tmp_path / "cache", **hub))
    assert folder.name == artifact_commit(v2)  # main is the newest model
    downloaded = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    assert downloaded.keys() == {f["name"] for f in v2.files} and "eval/accuracy.json" in downloaded
    for f in v2.files:
        assert hashlib.sha256(downloaded[f["name"]].read_bytes()).hexdigest() == f["sha256"]
    assert torch.equal(_scores(folder), _scores(_stored(v2)))
    assert not torch.equal(_scores(folder), _scores(_stored(v1)))


@pytest.mark.django_db(transaction=True)
def test_revisions_v1_main_and_the_commit_id(published, hub, tmp_path):
    v1, v2 = published
    repo_id = hub_repo_id(v1)
    by_tag = Path(snapshot_download(repo_id, revision="v1", cache_dir=tmp_path / "a", **hub))
    by_commit = Path(snapshot_download(repo_id, revision=artifact_commit(v1), cache_dir=tmp_path / "b", **hub))
    assert by_tag.name == by_commit.name == artifact_commit(v1)
    assert torch.equal(_scores(by_commit), _scores(_stored(v1)))

    api = HfApi(endpoint=hub["endpoint"], token=hub["token"])
    assert api.model_info(repo_id).sha == artifact_commit(v2)
    assert api.model_info(repo_id, revision="v2").sha == api.model_info(repo_id, revision="main").sha
    refs = api.list_repo_refs(repo_id)
    assert [(b.name, b.target_commit) for b in refs.branches] == [("main", artifact_commit(v2))]
    assert [(t.name, t.target_commit) for t in refs.tags] == [("v1", artifact_commit(v1)), ("v2", artifact_commit(v2))]
    top = {e.path: type(e).__name__ for e in api.list_repo_tree(repo_id, revision="v1")}
    assert top["eval"] == "RepoFolder" and top["config.json"] == "RepoFile" and "eval/accuracy.json" not in top
    [nested] = api.list_repo_tree(repo_id, path_in_repo="eval", revision="v1")
    assert nested.path == "eval/accuracy.json" and nested.lfs.sha256 == hashlib.sha256(b'{"seed": 1}').hexdigest()


@pytest.mark.django_db(transaction=True)
def test_a_deleted_models_vn_is_gone_for_good_and_the_others_keep_theirs(published, reward_models, hub, tmp_path):
    v1, v2 = published
    base, first, _ = reward_models
    v3 = model_publish(target=v1.target, base_model=base, folder=first)
    repo_id = hub_repo_id(v1)
    api = HfApi(endpoint=hub["endpoint"], token=hub["token"])
    v2.delete()  # no service deletes models yet; whatever does must not move the others' numbers

    folder = Path(snapshot_download(repo_id, revision="v3", cache_dir=tmp_path / "a", **hub))
    assert folder.name == artifact_commit(v3) == api.model_info(repo_id, revision="main").sha
    for f in v3.files:
        assert hashlib.sha256((folder / f["name"]).read_bytes()).hexdigest() == f["sha256"]
    raw = httpx2.get(f"{hub['endpoint']}/api/models/{repo_id}/revision/v2",
                     headers={"Authorization": f"Bearer {hub['token']}"})
    assert (raw.status_code, raw.headers["X-Error-Code"]) == (404, "RevisionNotFound")
    with pytest.raises(RevisionNotFoundError):
        snapshot_download(repo_id, revision="v2", cache_dir=tmp_path / "b", **hub)
    assert [(t.name, t.target_commit) for t in api.list_repo_refs(repo_id).tags] == [
        ("v1", artifact_commit(v1)), ("v3", artifact_commit(v3))]

    v3.delete()  # the newest: its number is not handed out again either
    v4 = model_publish(target=v1.target, base_model=base, folder=first)
    assert v4.repo_number == 4 and api.model_info(repo_id).sha == artifact_commit(v4)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(repo_id, revision="v3")
    assert api.model_info(repo_id, revision="v1").sha == artifact_commit(v1)


@pytest.fixture
def many_files(tmp_path) -> Path:
    """A model folder of 1,503 entries: more than a page of the tree listing."""
    folder = tmp_path / "many"
    (folder / "shards").mkdir(parents=True)
    for i in range(1500):
        (folder / "shards" / f"{i:04}.json").write_text(str(i))
    (folder / "config.json").write_text("{}")
    return folder


@pytest.mark.django_db(transaction=True)
def test_a_tree_longer_than_a_page_comes_in_pages_the_client_follows(media, reward_models, many_files, hub,
                                                                      monkeypatch):
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    model = model_publish(target=toy_target(), base_model=reward_models[0], folder=many_files)
    repo_id = hub_repo_id(model)
    api = HfApi(endpoint=hub["endpoint"], token=hub["token"])
    shards = [f"shards/{i:04}.json" for i in range(1500)]
    assert [e.path for e in api.list_repo_tree(repo_id, path_in_repo="shards")] == shards
    assert [e.path for e in api.list_repo_tree(repo_id, recursive=True)] == ["shards", "README.md", "config.json",
                                                                              *shards]

    auth = {"Authorization": f"Bearer {hub['token']}"}
    first = httpx2.get(f"{hub['endpoint']}/api/models/{repo_id}/tree/main/shards", headers=auth,
                       params={"expand": "true"})
    assert [e["path"] for e in first.json()] == shards[:1000]
    following = first.links["next"]["url"]
    assert following.startswith(f"{hub['endpoint']}/api/models/{repo_id}/tree/{artifact_commit(model)}/shards?")
    # main moves on to a model without that folder; the next page still lists the first one's.
    model_publish(target=model.target, base_model=reward_models[0], folder=reward_models[1])
    rest = httpx2.get(following, headers=auth)
    assert [e["path"] for e in rest.json()] == shards[1000:] and "next" not in rest.links
    bad = httpx2.get(f"{hub['endpoint']}/api/models/{repo_id}/tree/main", headers=auth, params={"cursor": "-1"})
    assert bad.status_code == 400 and "cursor" in bad.json()["error"]


@pytest.mark.django_db(transaction=True)
def test_hf_hub_download_of_one_file(published, hub, tmp_path):
    v1, _ = published
    path = hf_hub_download(hub_repo_id(v1), "config.json", revision="v1", cache_dir=tmp_path, **hub)
    assert Path(path).read_bytes() == (_stored(v1) / "config.json").read_bytes()
    local = hf_hub_download(hub_repo_id(v1), "eval/accuracy.json", revision="v1", local_dir=tmp_path / "here", **hub)
    assert Path(local) == tmp_path / "here" / "eval" / "accuracy.json" and Path(local).read_text() == '{"seed": 1}'


@pytest.mark.django_db(transaction=True)
def test_range_requests_serve_the_right_bytes_and_resume_a_download(published, hub, tmp_path):
    _, v2 = published
    data = (_stored(v2) / "model.safetensors").read_bytes()
    url = f"{hub['endpoint']}/{hub_repo_id(v2)}/resolve/main/model.safetensors"
    auth = {"Authorization": f"Bearer {hub['token']}"}

    head = httpx2.head(url, headers=auth)
    assert head.status_code == 200 and int(head.headers["Content-Length"]) == len(data)
    assert head.headers["X-Repo-Commit"] == artifact_commit(v2) and head.headers["Accept-Ranges"] == "bytes"
    assert head.headers["ETag"] == f'"{hashlib.sha256(data).hexdigest()}"' and head.content == b""

    last = len(data) - 1
    for header, start, end in [("bytes=100-1099", 100, 1099), (f"bytes={last - 9}-", last - 9, last),
                               ("bytes=-16", last - 15, last), (f"bytes=5-{len(data) * 2}", 5, last)]:
        part = httpx2.get(url, headers={**auth, "Range": header})
        assert part.status_code == 206, header
        assert part.headers["Content-Range"] == f"bytes {start}-{end}/{len(data)}"
        assert part.content == data[start:end + 1]
    past = httpx2.get(url, headers={**auth, "Range": f"bytes={len(data)}-"})
    assert past.status_code == 416 and past.headers["Content-Range"] == f"bytes */{len(data)}"
    assert httpx2.get(url, headers={**auth, "Range": "bytes=0-1,5-6"}).content == data  # multi-range: whole file

    # The client's own resume: the first 1000 bytes are on disk, it asks for the rest.
    with open(tmp_path / "partial", "w+b") as f:
        f.write(data[:1000])
        http_get(url, f, resume_size=1000, headers=auth, expected_size=len(data))
    assert (tmp_path / "partial").read_bytes() == data


@pytest.mark.django_db(transaction=True)
def test_unknown_repo_revision_and_file_get_the_hubs_404s(published, hub, tmp_path):
    repo_id = hub_repo_id(published[0])
    auth = {"Authorization": f"Bearer {hub['token']}"}
    for missing in ("chorus/no-such-target-salmon", "someone/toy-constitution-salmon", "chorus/toy-constitution-dpo"):
        raw = httpx2.get(f"{hub['endpoint']}/api/models/{missing}", headers=auth)
        assert (raw.status_code, raw.headers["X-Error-Code"], raw.json()) == (404, "RepoNotFound",
                                                                              {"error": "Repository not found"})
        with pytest.raises(RepositoryNotFoundError):
            snapshot_download(missing, cache_dir=tmp_path, **hub)
    for revision in ("v3", "v0", "dev", "0" * 40):
        raw = httpx2.head(f"{hub['endpoint']}/{repo_id}/resolve/{revision}/config.json", headers=auth)
        assert (raw.status_code, raw.headers["X-Error-Code"]) == (404, "RevisionNotFound")
        with pytest.raises(RevisionNotFoundError):
            snapshot_download(repo_id, revision=revision, cache_dir=tmp_path, **hub)
    raw = httpx2.get(f"{hub['endpoint']}/{repo_id}/resolve/main/pytorch_model.bin", headers=auth)
    assert (raw.status_code, raw.headers["X-Error-Code"], raw.headers["X-Repo-Commit"]) == (
        404, "EntryNotFound", artifact_commit(published[1]))
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(repo_id, "pytorch_model.bin", cache_dir=tmp_path, **hub)
    # Files are looked up in the model's manifest, never on disk by the requested name.
    escape = httpx2.get(f"{hub['endpoint']}/{repo_id}/resolve/main/..%2F..%2F..%2Fpyproject.toml", headers=auth)
    assert (escape.status_code, escape.headers["X-Error-Code"]) == (404, "EntryNotFound")
    # A file the manifest names but the store lost: the Hub's shape, not a server error page.
    (_stored(published[1]) / "config.json").unlink()
    lost = httpx2.get(f"{hub['endpoint']}/{repo_id}/resolve/main/config.json", headers=auth)
    assert (lost.status_code, lost.headers["X-Error-Code"]) == (404, "EntryNotFound")


@pytest.mark.django_db(transaction=True)
def test_a_token_without_read_models_gets_403_and_learns_nothing(published, hub, staff_user, tmp_path):
    repo_id = hub_repo_id(published[0])
    wrong = _token(staff_user, [Scope.READ_DATA, Scope.WRITE_RUNS])
    answers = [httpx2.get(f"{hub['endpoint']}/api/models/{repo}", headers={"Authorization": f"Bearer {wrong}"})
               for repo in (repo_id, "chorus/no-such-target-salmon")]
    assert [a.status_code for a in answers] == [403, 403] and answers[0].content == answers[1].content
    assert "read:models" in answers[0].json()["error"] and "X-Error-Code" not in answers[0].headers
    # As for the Hub's own 403s, the client falls back to its cache and reports the 403 as the cause.
    with pytest.raises(LocalEntryNotFoundError) as exc:
        hf_hub_download(repo_id, "config.json", cache_dir=tmp_path, endpoint=hub["endpoint"], token=wrong)
    assert isinstance(exc.value.__cause__, HfHubHTTPError) and exc.value.__cause__.response.status_code == 403
    assert "read:models" in str(exc.value.__cause__)
    anonymous = httpx2.get(f"{hub['endpoint']}/{repo_id}/resolve/main/config.json")
    assert anonymous.status_code == 401 and anonymous.headers["WWW-Authenticate"].startswith("Bearer")
    forged = httpx2.get(f"{hub['endpoint']}/{repo_id}/resolve/main/config.json",
                        headers={"Authorization": "Bearer nope"})
    assert forged.status_code == 401 and forged.json() == {"error": "Invalid credentials in Authorization header"}


@pytest.mark.django_db
def test_target_names_that_slug_alike_get_distinct_stable_repo_ids(media, reward_models, monkeypatch):
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    base = reward_models[0]
    first = model_publish(target=toy_target(name="Toy constitution"), base_model=base)
    second = model_publish(target=toy_target(name="toy-constitution!"), base_model=base)
    assert hub_repo_id(first) == "chorus/toy-constitution-salmon"
    suffix = hashlib.sha256(b"toy-constitution!").hexdigest()[:8]
    assert hub_repo_id(second) == f"chorus/toy-constitution-{suffix}-salmon"
    model_publish(target=toy_target(name="Toy constitution"), base_model=base)  # a new version of the first name
    assert target_slugs() == {"Toy constitution": "toy-constitution", "toy-constitution!": f"toy-constitution-{suffix}"}


@pytest.mark.django_db
def test_the_dashboard_snippet_names_the_endpoint_repo_and_commit(published):
    html = Template("{% load chorus_hub %}{% hub_download_snippet artifact %}").render(
        Context({"request": RequestFactory().get("/dashboard/"), "artifact": published[0]}))
    assert 'snapshot_download(\n    "chorus/toy-constitution-salmon"' in html
    assert f'revision="{artifact_commit(published[0])}"' in html and 'endpoint="http://testserver/hf"' in html
    assert "# v1 of chorus/toy-constitution-salmon" in html


# The same endpoints with the models in an S3 bucket (CHORUS_STORAGE_URL=s3://...), on a real
# S3-protocol server on loopback (tests/support/s3.py): resolve answers 302 to a presigned URL, as
# the Hub does for LFS files, and the client downloads from the bucket.


@pytest.fixture
def published_in_bucket(s3_bucket, reward_models, monkeypatch):
    monkeypatch.setattr("training.services.runs._dispatch", lambda run_id, task_id: None)
    base, first, second = reward_models
    target = toy_target()
    return [model_publish(target=target, base_model=base, folder=first),
            model_publish(target=target, base_model=base, folder=second)]


@pytest.mark.django_db(transaction=True)
def test_snapshot_download_from_a_bucket_follows_presigned_redirects(published_in_bucket, s3_bucket, reward_models,
                                                                     hub, tmp_path):
    from django.conf import settings

    v1, v2 = published_in_bucket
    assert not (Path(settings.MEDIA_ROOT) / v2.path).exists()  # only in the bucket: nothing local to stream
    assert f"{v2.path}/model.safetensors" in s3_bucket.keys(v2.path)
    folder = Path(snapshot_download(hub_repo_id(v2), cache_dir=tmp_path / "cache", **hub))
    assert folder.name == artifact_commit(v2)
    downloaded = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
    assert downloaded.keys() == {f["name"] for f in v2.files} and "eval/accuracy.json" in downloaded
    for f in v2.files:
        assert hashlib.sha256(downloaded[f["name"]].read_bytes()).hexdigest() == f["sha256"]
    assert torch.equal(_scores(folder), _scores(reward_models[2]))
    by_tag = Path(snapshot_download(hub_repo_id(v1), revision="v1", cache_dir=tmp_path / "v1", **hub))
    assert torch.equal(_scores(by_tag), _scores(reward_models[1]))


@pytest.mark.django_db(transaction=True)
def test_resolve_redirects_to_the_bucket_with_the_files_size_and_sha256(published_in_bucket, s3_bucket, hub):
    _, v2 = published_in_bucket
    entry = next(f for f in v2.files if f["name"] == "model.safetensors")
    url = f"{hub['endpoint']}/{hub_repo_id(v2)}/resolve/main/model.safetensors"
    auth = {"Authorization": f"Bearer {hub['token']}"}
    for method in ("HEAD", "GET"):
        answer = httpx2.request(method, url, headers=auth, follow_redirects=False)
        assert answer.status_code == 302, method
        assert answer.headers["Location"].startswith(f"{s3_bucket.endpoint}/{s3_bucket.name}/chorus/{v2.path}/")
        assert "X-Amz-Signature=" in answer.headers["Location"]
        assert (answer.headers["X-Linked-Size"], answer.headers["X-Linked-Etag"]) == (
            str(entry["size_bytes"]), f'"{entry["sha256"]}"')
        assert answer.headers["X-Repo-Commit"] == artifact_commit(v2)
    location = httpx2.head(url, headers=auth).headers["Location"]
    whole = httpx2.get(location)  # the presigned URL needs no token, and the bucket serves ranges itself
    assert whole.status_code == 200 and hashlib.sha256(whole.content).hexdigest() == entry["sha256"]
    part = httpx2.get(location, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.content == whole.content[100:200]
    # Without read:models: the same 401 as ever, and no URL to the bucket.
    assert httpx2.head(url, follow_redirects=False).status_code == 401


@pytest.mark.django_db(transaction=True)
def test_the_dashboard_sends_a_models_file_from_the_bucket(published_in_bucket, client, staff_user):
    _, v2 = published_in_bucket
    client.force_login(staff_user)
    answer = client.get(f"/dashboard/models/{v2.pk}/files/config.json")
    assert answer.status_code == 302 and "X-Amz-Signature=" in answer["Location"]
    config = next(f for f in v2.files if f["name"] == "config.json")
    assert hashlib.sha256(httpx2.get(answer["Location"]).content).hexdigest() == config["sha256"]
    page = client.get(f"/dashboard/models/{v2.pk}/").content.decode()
    assert "s3://chorus-" in page and f"/chorus/{v2.path}" in page  # where it is: the bucket, not a folder
    tar = b"".join(client.get(f"/dashboard/models/{v2.pk}/download/").streaming_content)
    with tarfile.open(fileobj=io.BytesIO(tar)) as archive:
        members = {m.name.split("/", 1)[1]: archive.extractfile(m).read() for m in archive.getmembers()}
    assert members.keys() == {f["name"] for f in v2.files} | {"checksums.sha256"}
    for f in v2.files:
        assert hashlib.sha256(members[f["name"]]).hexdigest() == f["sha256"]
