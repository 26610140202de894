"""Published models without training: a frozen target, and a run taken through the real services
(create, claim, succeed) whose model folder is laid out as the GPU worker publishes it
(MEDIA_ROOT/training/models/<run uuid>/, manifest of name, sha256 and size)."""
from __future__ import annotations

import shutil
from pathlib import Path

from training.models import AlignmentTarget, ModelArtifact
from training.services import runs as run_services
from training.storage import model_dir, run_dir, sha256_file
from training.storage import model_publish as storage_publish


def toy_target(*, name: str = "Toy constitution") -> AlignmentTarget:
    """The SALMON toy principles, published and frozen with prompts, through the real services."""
    from elicitation.services.constitutions import (
        constitution_create,
        constitution_draft,
        constitution_entry_add,
        constitution_version_publish,
        principle_create,
    )
    from training.methods.toys import PRINCIPLES, TOPICS
    from training.services.targets import target_freeze_constitution

    version = constitution_draft(constitution=constitution_create(title=f"{name} source"))
    for p in PRINCIPLES:
        constitution_entry_add(version=version, principle=principle_create(
            name=p.name, definition=p.definition, negated_definition=p.negated_definition))
    constitution_version_publish(version=version)
    return target_freeze_constitution(name=name, constitution_version_id=version.pk,
                                      extra_prompts=[f"How do I {t}?" for t in TOPICS[:4]])


def model_publish(*, target: AlignmentTarget, base_model: Path, folder: Path | None = None,
                  metrics: dict | None = None, summary: dict | None = None) -> ModelArtifact:
    """A salmon run on `target` that 'trained' the model in `folder` (copied in as its output).
    Callers replace training.services.runs._dispatch so nothing reaches the broker."""
    run = run_services.run_create(target=target, method="salmon", base_model=str(base_model), config={})
    run = run_services.run_claim(run_id=run.pk, worker="tests@here", device="cpu")
    staging = run_dir(run.uuid) / f"staging-{run.attempt}"
    if folder is not None:
        shutil.copytree(folder, staging)
    else:
        staging.mkdir(parents=True)
    card = f"# {target.name} reward model\n\nPublished by the test suite.\n"
    (staging / "README.md").write_text(card, encoding="utf-8")
    files = [{"name": p.relative_to(staging).as_posix(), "sha256": sha256_file(p), "size_bytes": p.stat().st_size}
             for p in sorted(staging.rglob("*")) if p.is_file()]
    (staging / "checksums.sha256").write_text("".join(f"{f['sha256']}  {f['name']}\n" for f in files))
    # As the GPU worker publishes: renamed into place, or verified in the bucket when there is one.
    artifact_path = storage_publish(staging, model_dir(run.uuid), files)
    shutil.rmtree(staging, ignore_errors=True)
    artifact = run_services.run_succeed(
        claim=run_services.Claim(run.pk, run.attempt), metrics=metrics or {"train_accuracy": 0.75}, summary=summary or {},
        artifact_path=artifact_path, files=files, model_card=card,
    )
    assert artifact is not None
    return artifact
