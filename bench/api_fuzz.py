"""Fuzzes the REST API from its own OpenAPI schema with schemathesis, against a real gunicorn
process on a database of its own. Prints requests sent, server errors and schema violations.

    .venv/bin/python bench/api_fuzz.py [--examples 60]

Targets: >= 1,000 requests, 0 server errors, 0 schema violations.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from live import ROOT, gunicorn, own_database

DB = "chorus_bench_fuzz"
PORT = 8766


def seed() -> str:
    """A campaign with values, votes, a snapshot and comparisons, and a token with every scope."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from chorus.accounts.models import Participant, Scope
    from chorus.accounts.services import api_token_create
    from elicitation.models import CanonicalCard, Comparison, Context, EdgeVote, SystemMessage
    from elicitation.services.campaigns import campaign_create
    from elicitation.services.moral_graph import graph_snapshot_create

    user = get_user_model().objects.create_user("fuzz", is_staff=True)
    _, token = api_token_create(user=user, name="fuzz", scopes=Scope.values)
    campaign = campaign_create(title="Fuzz study", questions=["What should I do?"], status="open")
    question = campaign.questions.get()
    cards = [CanonicalCard.objects.create(campaign=campaign, question=question, title=f"Value {i}",
                                          description="A value.", policies=["THINGS that matter"]) for i in range(4)]
    context = Context.objects.create(campaign=campaign, text="When it matters")
    start = timezone.now() - timedelta(days=1)
    for i in range(6):
        voter = Participant.objects.create(campaign=campaign, consented_at=start)
        EdgeVote.objects.create(campaign=campaign, participant=voter, from_card=cards[i % 2], to_card=cards[2],
                                context=context, relationship="upgrade", created_at=start + timedelta(minutes=i))
        sm = SystemMessage.objects.create(campaign=campaign, participant=voter, text="Be brief.")
        Comparison.objects.create(campaign=campaign, participant=voter, system_message=sm, system_message_text=sm.text,
                                  prompt="Hi", mode="with_without", model_a="m+", model_b="m-", params_a={},
                                  params_b={}, response_a="a", response_b="b", a_on_left=True, choice="a",
                                  decided_at=start)
    graph_snapshot_create(campaign=campaign)
    _seed_training()
    return token


def _seed_training() -> None:
    """A frozen target, a queued run, and a published model whose files the Hub endpoints serve, as
    the repo the schema's examples name (chorus/toy-constitution-salmon). Run rows are made directly,
    not through run_create: nothing may reach the broker from a bench."""
    import hashlib

    from django.conf import settings

    from elicitation.services.constitutions import (
        constitution_create,
        constitution_draft,
        constitution_entry_add,
        constitution_version_publish,
        principle_create,
    )
    from training.models import ModelArtifact, ModelRepo, RunMetric, TrainingRun
    from training.services.targets import target_freeze_constitution
    from training.storage import model_dir

    version = constitution_draft(constitution=constitution_create(title="Fuzz constitution"))
    constitution_entry_add(version=version, principle=principle_create(name="Warm", definition="Be kind."))
    constitution_version_publish(version=version)
    target = target_freeze_constitution(name="Toy constitution", constitution_version_id=version.pk,
                                        extra_prompts=["Hi?"])
    TrainingRun.objects.create(target=target, method="salmon", config={}, base_model="/models/base")
    run = TrainingRun.objects.create(target=target, method="salmon", config={}, base_model="/models/base",
                                     status=TrainingRun.Status.SUCCEEDED, progress=1.0)
    RunMetric.objects.bulk_create([RunMetric(run=run, step=s, values={"loss": 1 / s}) for s in range(1, 6)])
    folder = model_dir(run.uuid)
    files = {"config.json": b'{"architectures": ["LlamaForSequenceClassification"]}', "README.md": b"# fuzz\n",
             "eval/scores.json": b"[]"}
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    repo = ModelRepo.objects.create(target_name=target.name, method="salmon", last_number=1)
    ModelArtifact.objects.create(
        run=run, target=target, method="salmon", repo=repo, repo_number=1, base_model="/models/base",
        name="Toy constitution-v1-salmon-run2",
        path=folder.relative_to(settings.MEDIA_ROOT).as_posix(), metrics={"train_accuracy": 0.5}, model_card="# fuzz",
        files=[{"name": n, "sha256": hashlib.sha256(d).hexdigest(), "size_bytes": len(d)} for n, d in files.items()],
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--examples", type=int, default=100, help="examples per operation and phase")
    args = parser.parse_args()
    # Targets frozen and models seeded while fuzzing write their files under a throwaway folder.
    with tempfile.TemporaryDirectory() as var, \
            own_database(DB, CHORUS_API_RATE_USER="1000000/hour", CHORUS_VAR_DIR=var) as env:
        token = seed()
        with gunicorn(env, port=PORT, workers=2), tempfile.TemporaryDirectory() as reports:
            started = time.perf_counter()
            result = subprocess.run(
                [str(ROOT / ".venv/bin/schemathesis"), "run", f"http://127.0.0.1:{PORT}/api/v1/schema/",
                 "-H", f"Authorization: Bearer {token}", "--checks", "not_a_server_error,response_schema_conformance",
                 "-n", str(args.examples), "--seed", "1", "--phases", "examples,coverage,fuzzing",
                 "--report", "har,junit", "--report-dir", reports, "--workers", "2"],
                capture_output=True, text=True)
            seconds = time.perf_counter() - started
            entries = json.loads(next(Path(reports).glob("har-*.json")).read_text())["log"]["entries"]
            junit = next(Path(reports).glob("junit-*.xml")).read_text()
    server_errors = sum(1 for e in entries if e["response"]["status"] >= 500)
    violations = junit.count("Response violates schema")
    print(f"{'requests sent':<26}{len(entries):>8,}  (target >= 1,000)")
    print(f"{'server errors (5xx)':<26}{server_errors:>8}  (target 0)")
    print(f"{'schema violations':<26}{violations:>8}  (target 0)")
    print(f"{'seconds':<26}{seconds:>8.1f}")
    if result.returncode != 0 or server_errors or violations or len(entries) < 1000:
        print(result.stdout[-6000:])
        sys.exit(1)


if __name__ == "__main__":
    main()
