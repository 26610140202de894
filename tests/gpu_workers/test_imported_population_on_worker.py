"""An imported preference dataset is the same kind of target as a frozen campaign: PAL and VPL train
on it on the gpu worker, through the same runs. The last test walks the whole path a curator takes
from the dashboard (import page, target page, run form for every method that trains from a preference
population, Janus included, model page, Hub download); Janus's run there takes about a minute or
more on a shared CPU."""
from __future__ import annotations

import hashlib
import json
import random
import re
import time
from dataclasses import asdict
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from training.methods import pal, vpl
from training.methods.toys import PROMPTS
from training.models import AlignmentTarget, TrainingRun
from training.services.imports import preferences_import
from training.services.runs import run_create

pytestmark = pytest.mark.django_db(transaction=True)

SHORT = ("Start small.", "Ask a friend.", "Take your time.")
MORE = " Then check it twice, and wait a bit before the next step."


def brevity_file(path):
    """16 annotators judge 12 short-vs-long pairs each; even-numbered ones want brevity, odd detail."""
    rng = random.Random(0)
    rows = []
    for n in range(16):
        for _ in range(12):
            short = rng.choice(SHORT)
            wants_long = n % 2 == 1
            rows.append({"annotator": f"rater-{n}", "question": rng.choice(PROMPTS),
                         "chosen": short + MORE if wants_long else short, "rejected": short if wants_long else short + MORE,
                         "system": "Give me detail." if wants_long else "Short answers, please.", "batch": n // 4})
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def import_brevity(folder: Path) -> tuple[AlignmentTarget, dict]:
    """The brevity file imported as a preference-population target -> (target, import report)."""
    from training.preference_files import Columns

    return preferences_import(name="brevity", path=brevity_file(folder / "brevity.jsonl"),
                              columns=Columns.parse("user=annotator,prompt=question", metadata="batch"))


def finished(run: TrainingRun, timeout: float = 180) -> TrainingRun:
    deadline = time.monotonic() + timeout
    while not (run := TrainingRun.objects.get(pk=run.pk)).is_finished and time.monotonic() < deadline:
        time.sleep(0.2)
    assert run.status == "succeeded", f"{run.error}\n{run.log}"
    return run


@pytest.mark.parametrize("method", [pal, vpl], ids=["pal", "vpl"])
def test_an_imported_population_trains_on_the_gpu_worker(celery_workers, tiny_model_dir, tmp_path, method):
    target, report = import_brevity(tmp_path)
    assert (report["pairs"], report["users"]) == (192, 16)
    name = method.__name__.rsplit(".", 1)[1]
    config = {**asdict(method.Config.tiny()), "new_user_fraction": 0.25, "eval_fraction": 0.25}
    run = finished(run_create(target=target, method=name, base_model=str(tiny_model_dir), config=config))
    assert run.metrics["eval_accuracy"] >= 0.75 and run.metrics["new_user_accuracy"] >= 0.75
    assert run.summary["people"] == 16


def _form_config(method) -> dict[str, str]:
    """The method's tiny config as the run form posts it (`config.<field>` strings)."""
    tiny = {**asdict(method.Config.tiny()), "eval_fraction": 0.25}
    if "new_user_fraction" in tiny:
        tiny["new_user_fraction"] = 0.25
    return {f"config.{name}": str(value) for name, value in tiny.items()}


def _hub_download(page: str, *, endpoint: str, token: str, cache: Path) -> tuple[str, Path]:
    """The model page's copy-paste snippet, run: (repo id, the downloaded folder)."""
    from huggingface_hub import snapshot_download

    repo_id = re.search(r'snapshot_download\(\s*"([^"]+)"', page).group(1)
    revision = re.search(r'revision="([0-9a-f]{40})"', page).group(1)
    return repo_id, Path(snapshot_download(repo_id, revision=revision, endpoint=endpoint, token=token, cache_dir=cache))


@pytest.mark.slow
def test_the_dashboard_path_for_an_imported_dataset(celery_workers, live_server, staff_user, tiny_model_dir, tmp_path):
    """Import on the dashboard's page (a `default` worker), the target it froze, every method that
    trains from a preference population queued from the run form and trained on the `gpu` worker,
    each model page, and its snippet's snapshot_download against the live server."""
    from django.test import Client
    from django.urls import reverse

    from chorus.accounts.models import Scope
    from chorus.accounts.services import api_token_create
    from tests.support.private_services import wait_for
    from training.configs import method_module, methods_for_kind
    from training.models import ModelArtifact

    staff = Client()
    staff.force_login(staff_user)
    upload = SimpleUploadedFile("brevity.jsonl", brevity_file(tmp_path / "brevity.jsonl").read_bytes())
    response = staff.post(reverse("dashboard:targets_import"), {
        "name": "brevity", "map": "user=annotator,prompt=question", "metadata": "batch", "ignore": "",
        "min_pairs_per_user": "1", "file": upload})
    assert response.status_code == 302, response.content.decode()

    def import_done() -> str | None:
        html = staff.get(response["Location"], HTTP_HX_REQUEST="true").content.decode()  # the page's poll
        return None if re.search(r'data-status="(queued|running)"', html) else html

    status = wait_for(import_done, timeout=120, what="the import on the default worker")
    assert 'data-status="succeeded"' in status and 'data-count="pairs">192<' in status, status
    target = AlignmentTarget.objects.get(name="brevity")
    detail = staff.get(reverse("dashboard:targets_detail", args=[target.pk])).content.decode()
    assert target.kind == "preference_population" and "preferences.jsonl" in detail and "users.jsonl" in detail

    methods = methods_for_kind(target.kind)
    assert {"pal", "vpl", "janus"} <= set(methods)
    runs = {}
    for name in methods:
        posted = staff.post(reverse("dashboard:runs_new"), {"target": str(target.pk), "method": name,
                                                            "base_model": str(tiny_model_dir),
                                                            **_form_config(method_module(name))})
        assert posted.status_code == 302, posted.content.decode()
        runs[name] = int(posted["Location"].rstrip("/").rsplit("/", 1)[1])

    token = api_token_create(user=staff_user, name="hub", scopes=[Scope.READ_MODELS])[1]
    for name, run_id in runs.items():
        run = finished(TrainingRun.objects.get(pk=run_id), timeout=1500)  # Janus: minutes on a loaded CPU
        assert run.method == name and run.metrics["eval_accuracy"] >= 0.75, (name, run.metrics)
        run_page = staff.get(reverse("dashboard:runs_detail", args=[run_id])).content.decode()
        artifact = ModelArtifact.objects.get(run=run)
        model_url = reverse("dashboard:models_detail", args=[artifact.pk])
        assert model_url in run_page
        model_page = staff.get(model_url).content.decode()
        assert artifact.name in model_page
        repo_id, folder = _hub_download(model_page, endpoint=f"{live_server.url}/hf", token=token,
                                        cache=tmp_path / f"hub-{name}")
        assert repo_id.endswith(f"-{name}")
        downloaded = {p.relative_to(folder).as_posix(): p for p in folder.rglob("*") if p.is_file()}
        assert downloaded.keys() == {f["name"] for f in artifact.files}
        for f in artifact.files:
            assert hashlib.sha256(downloaded[f["name"]].read_bytes()).hexdigest() == f["sha256"], f["name"]
