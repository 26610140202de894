"""Fixtures for training tests: a tiny base model, the toy constitution as a published version and
as a frozen target, and removal of the files that targets and runs leave under MEDIA_ROOT."""
from __future__ import annotations

import shutil

import pytest


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    from tests.support.tiny_models import build_tiny_llama

    return build_tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture
def toy_version(db):
    """The toy constitution's principles (training/methods/toys.py) as a published constitution version."""
    from elicitation.services.constitutions import (
        constitution_create,
        constitution_draft,
        constitution_entry_add,
        constitution_version_publish,
        principle_create,
    )
    from training.methods.toys import PRINCIPLES

    constitution = constitution_create(title="Toy constitution")
    version = constitution_draft(constitution=constitution)
    for p in PRINCIPLES:
        principle = principle_create(name=p.name, definition=p.definition, negated_definition=p.negated_definition)
        constitution_entry_add(version=version, principle=principle)
    return constitution_version_publish(version=version)


@pytest.fixture
def toy_target(toy_version):
    from training.methods.toys import TOPICS
    from training.services.targets import target_freeze_constitution

    return target_freeze_constitution(
        name="toy", constitution_version_id=toy_version.pk, extra_prompts=[f"How do I {t}?" for t in TOPICS]
    )


@pytest.fixture(autouse=True)
def _remove_training_files(request):
    """Targets, runs and models write under MEDIA_ROOT/training/<kind>/<uuid>; remove this test's."""
    yield
    if request.node.get_closest_marker("django_db") is None and "db" not in request.fixturenames:
        return
    from training.models import AlignmentTarget, TrainingRun
    from training.storage import model_dir, run_dir, target_dir

    for uuid in AlignmentTarget.objects.values_list("uuid", flat=True):
        shutil.rmtree(target_dir(uuid), ignore_errors=True)
    for uuid in TrainingRun.objects.values_list("uuid", flat=True):
        shutil.rmtree(run_dir(uuid), ignore_errors=True)
        shutil.rmtree(model_dir(uuid), ignore_errors=True)
