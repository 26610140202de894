"""A published model's `vN` in its repo (target name + method): taken when the run succeeds, in the
same transaction, one number per model even when runs finish at once, never reused; and the
migration that numbered the models published before."""
from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from training.models import ModelRepo
from training.services import runs as run_services

FILES = [{"name": "config.json", "sha256": "0" * 64, "size_bytes": 2}]


@pytest.fixture
def claims(toy_target, tiny_model_dir, monkeypatch):
    """Claimed runs, on the toy target unless told, as many as asked for."""
    monkeypatch.setattr(run_services, "_dispatch", lambda run_id, task_id: None)

    def make(count: int, target=toy_target) -> list[run_services.Claim]:
        made = []
        for _ in range(count):
            run = run_services.run_create(target=target, method="salmon", base_model=str(tiny_model_dir),
                                          config={})
            run = run_services.run_claim(run_id=run.pk, worker="tests@here", device="cpu")
            made.append(run_services.Claim(run.pk, run.attempt))
        return made

    return make


def _succeed(claim: run_services.Claim):
    return run_services.run_succeed(claim=claim, metrics={}, summary={}, artifact_path=f"models/{claim.run_id}",
                                    files=FILES, model_card="# card")


@pytest.mark.django_db
def test_numbers_count_up_per_repo_and_a_deleted_one_is_not_given_again(claims, toy_target):
    first, second, third = (_succeed(c) for c in claims(3))
    assert [a.repo_number for a in (first, second, third)] == [1, 2, 3]
    assert first.repo == second.repo == third.repo
    assert (first.repo.target_name, first.repo.method) == (toy_target.name, "salmon")
    third.delete()
    [fourth] = (_succeed(c) for c in claims(1))
    assert fourth.repo_number == 4 and ModelRepo.objects.get().last_number == 4


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("published_before", [0, 1])
def test_two_runs_finishing_at_once_take_different_numbers(claims, toy_target, published_before):
    """The first run takes its number and holds its transaction open; the second, finishing
    meanwhile, must wait for it rather than take the same number. They train towards two versions
    of one target name, so nothing but the repo is shared between them; the repo is new when
    published_before is 0, so both may try to create it."""
    from training.services.targets import target_freeze_constitution

    newer = target_freeze_constitution(name=toy_target.name, constitution_version_id=toy_target.constitution_version_id,
                                       extra_prompts=["How do I apologise?"])
    assert newer.version == toy_target.version + 1
    for claim in claims(published_before):
        _succeed(claim)
    [first_claim], [second_claim] = claims(1), claims(1, target=newer)
    numbered, numbers = threading.Event(), {}

    def first_run() -> None:
        try:
            with transaction.atomic():
                numbers["first"] = _succeed(first_claim).repo_number
                numbered.set()
                time.sleep(0.5)  # the second run reaches the repo row while this one still holds it
        finally:
            numbered.set()
            connection.close()

    thread = threading.Thread(target=first_run)
    thread.start()
    assert numbered.wait(10)
    numbers["second"] = _succeed(second_claim).repo_number
    thread.join()
    assert numbers == {"first": published_before + 1, "second": published_before + 2}


@pytest.mark.django_db(transaction=True)
def test_the_migration_numbers_existing_models_as_they_were_served():
    """Until 0003 a model's vN was its place among its repo's models by creation time; the
    migration stores exactly that, and slugs stay claimed in the order names first published."""
    before, after = [("training", "0002_preference_population")], [("training", "0003_artifact_repo_number")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        Target, Run, Artifact = (old.get_model("training", m) for m in ("AlignmentTarget", "TrainingRun",
                                                                         "ModelArtifact"))

        def publish(name: str, version: int, method: str):
            target, _ = Target.objects.get_or_create(name=name, version=version, defaults={
                "kind": "constitution", "source_label": "s", "content_sha256": "0" * 64})
            run = Run.objects.create(target=target, method=method, config={}, base_model="/b")
            return Artifact.objects.create(run=run, target=target, method=method, base_model="/b", name="m",
                                           path="p", files=FILES, model_card="#").pk

        ids = [publish("toy-constitution!", 1, "salmon"), publish("Toy constitution", 1, "salmon"),
               publish("Toy constitution", 2, "salmon"), publish("Toy constitution", 1, "dpo"),
               publish("Toy constitution", 1, "salmon")]
        # The last row was created between the second and third (a clock set back, or rows copied in).
        start = Artifact.objects.get(pk=ids[0]).created_at
        for pk, hours in zip(ids, [0, 1, 3, 4, 2], strict=True):
            Artifact.objects.filter(pk=pk).update(created_at=start + timedelta(hours=hours))
        executor = MigrationExecutor(connection)
        executor.migrate(after)
        new = executor.loader.project_state(after).apps
        Artifact, Repo = new.get_model("training", "ModelArtifact"), new.get_model("training", "ModelRepo")
        numbered = {a.pk: (a.repo.target_name, a.repo.method, a.repo_number)
                    for a in Artifact.objects.select_related("repo")}
        assert [numbered[pk] for pk in ids] == [
            ("toy-constitution!", "salmon", 1), ("Toy constitution", "salmon", 1), ("Toy constitution", "salmon", 3),
            ("Toy constitution", "dpo", 1), ("Toy constitution", "salmon", 2)]
        assert list(Repo.objects.order_by("pk").values_list("target_name", "method", "last_number")) == [
            ("toy-constitution!", "salmon", 1), ("Toy constitution", "salmon", 3), ("Toy constitution", "dpo", 1)]
    finally:
        executor = MigrationExecutor(connection)
        executor.migrate(executor.loader.graph.leaf_nodes())
