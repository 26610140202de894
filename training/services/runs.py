"""Training runs: create and queue, cancel, and every state change a worker or the reaper makes.

The database row is the truth. A worker may only write to a run it holds: every write it makes is
conditional on the run still being `running` in the same `attempt`, so a worker the reaper gave up
on cannot overwrite what happened since.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from celery import current_app
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from chorus.dispatch import dispatch_or_keep
from training.base_models import base_model_check
from training.configs import config_as_dict, config_validate, launch_of, launch_problem, method_module
from training.models import AlignmentTarget, ModelArtifact, ModelRepo, RunMetric, TrainingRun
from training.policy_server import policy_server_problem
from training.storage import checkpoint_latest, run_dir, store_problem

log = logging.getLogger(__name__)

TRAIN_TASK = "gpu_workers.tasks.run_train"  # by name: training does not import gpu_workers
JOIN_TASK = "gpu_workers.tasks.run_join"  # another host's share of a multi-host run
STALE_AFTER = timedelta(minutes=3)  # workers beat every few seconds; this allows long pauses (e.g. saving)
MAX_ATTEMPTS = 3  # a run that keeps killing its worker stops being retried


def run_create(
    *, target: AlignmentTarget, method: str, base_model: str, config: Mapping[str, Any], user=None
) -> TrainingRun:
    """Validate everything, save the run as `queued`, and queue it on `gpu` once committed."""
    errors: dict[str, list[str]] = {}
    module = None
    try:
        module = method_module(method)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        base_model_check(base_model.strip())
    except ValueError as exc:
        errors["base_model"] = [str(exc)]
    validated = None
    if module is not None:
        try:
            validated = config_validate(method, config)
        except ValidationError as exc:
            errors.update({f"config.{k}": v for k, v in exc.message_dict.items()})
        if validated is not None and (problem := policy_server_problem(validated)):
            errors["config.policy_backend"] = [problem]
        problem = run_target_problem(target=target, method=method)
        if problem:
            errors["target"] = [problem]
    if validated is not None:  # the devices are checked only when the deployment says what workers hold
        gpus = settings.CHORUS_WORKER_GPUS if settings.CHORUS_WORKER_GPUS >= 0 else None
        if problem := launch_problem(launch_of(config), gpus=gpus, config=validated):
            errors[f"config.{problem.setting}"] = [problem.message]
    if not errors and (problem := store_problem()):  # the run could not fetch its target nor publish
        errors["storage"] = [problem]
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        run = TrainingRun.objects.create(
            target=target, method=method, config=config_as_dict(validated, launch_of(config)), base_model=base_model.strip(),
            task_id=str(uuid.uuid4()), created_by=user, stage="queued",
        )
        _log(run.pk, f"queued {method} on {target} from {run.base_model}")
        transaction.on_commit(lambda: _dispatch(run.pk, run.task_id))
    return run


def run_target_problem(*, target: AlignmentTarget, method: str) -> str:
    """Why `method` cannot train from `target` ("" if it can): checked before anything is queued, and
    by the pages that offer the method, so a run never fails on a target it could not have used."""
    module = method_module(method)
    if target.kind not in module.TARGET_KINDS:
        kinds = " or ".join(AlignmentTarget.Kind(kind).label.lower() for kind in module.TARGET_KINDS)
        return f"This method trains from {kinds} targets; {target} is a {target.get_kind_display().lower()} target."
    rows = {f.name: f.rows for f in target.files.all()}
    empty = [name for name in module.REQUIRED_FILES if not rows.get(name)]
    if empty:
        return f"{target} has no data in {', '.join(empty)}; freeze a target that has some."
    people = rows.get("users.jsonl", 0)
    if people < module.MIN_PEOPLE:
        return (f"{method.upper()} needs pairs from at least {module.MIN_PEOPLE} people; {target} holds pairs from "
                f"{people}. Freeze a target from a campaign where more people compared responses "
                f"(or lower its minimum pairs per person).")
    return ""


def _dispatch(run_id: int, task_id: str) -> None:
    try:
        sent = dispatch_or_keep(TRAIN_TASK, run_id, task_id=task_id)
    except Exception as exc:  # not the broker being down (that is kept for later): say so on the run
        log.exception("could not queue run %s", run_id)
        TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
            status=TrainingRun.Status.FAILED, error=f"Could not queue the run: {exc}", finished_at=timezone.now()
        )
        return
    if not sent:
        _log(run_id, "the task queue (Redis) is unreachable; the run stays queued and is sent once Redis answers")


def run_cancel(*, run: TrainingRun) -> TrainingRun:
    """A queued run is cancelled at once; a running one is asked to stop and its worker ends it."""
    now = timezone.now()
    with transaction.atomic():  # the status and its log line appear together
        if TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.QUEUED).update(
            status=TrainingRun.Status.CANCELLED, cancel_requested_at=now, finished_at=now, stage="cancelled"
        ):
            _log(run.pk, "cancelled before a worker started it")
        elif not TrainingRun.objects.filter(pk=run.pk, status=TrainingRun.Status.RUNNING).update(
                cancel_requested_at=now):
            raise ValidationError("This run has already finished.")
        else:
            _log(run.pk, "cancel requested; the worker stops at its next check")
    if run.task_id:
        try:
            current_app.control.revoke(run.task_id)  # a copy of the message still in the queue is dropped
        except Exception:  # broker down: the run row already says cancelled, which the task checks first
            log.exception("could not revoke task %s of run %s", run.task_id, run.pk)
    run.refresh_from_db()
    return run


# --- what a worker writes -------------------------------------------------------------------


@dataclass(frozen=True)
class Claim:
    """Which run a worker holds, and in which attempt; passed to every write below."""

    run_id: int
    attempt: int


def run_claim(*, run_id: int, worker: str, device: str) -> TrainingRun | None:
    """Take a queued run; None if it is finished, cancelled, or already held by another worker.
    Dispatching the same run twice is therefore harmless."""
    now = timezone.now()
    taken = TrainingRun.objects.filter(pk=run_id, status=TrainingRun.Status.QUEUED).update(
        status=TrainingRun.Status.RUNNING, attempt=F("attempt") + 1, worker=worker, device=device,
        heartbeat_at=now, started_at=now, stage="starting", rendezvous="", hosts_joined=0,
    )
    if not taken:
        return None
    run = TrainingRun.objects.select_related("target").get(pk=run_id)
    _log(run_id, f"attempt {run.attempt} started on {worker} ({device})")
    return run


def run_rendezvous_open(*, claim: Claim, endpoint: str, hosts: int) -> None:
    """The first host of a multi-host run says where the others meet it, and queues one join task per
    other host on `gpu`: whichever GPU workers are free take them (`run_join_claim`)."""
    with transaction.atomic():
        if not _held(claim).update(rendezvous=endpoint):
            return
        _log(claim.run_id, f"waiting at {endpoint} for {hosts - 1} more host{'s' * (hosts > 2)} to join")
        for _ in range(hosts - 1):
            transaction.on_commit(lambda: dispatch_or_keep(JOIN_TASK, claim.run_id, task_id=str(uuid.uuid4())))


@dataclass(frozen=True)
class Seat:
    """A joined host's place in a multi-host run: the attempt it serves, its node rank, where to meet."""

    claim: Claim
    node_rank: int
    rendezvous: str


@transaction.atomic
def run_join_claim(*, run_id: int, worker: str) -> tuple[TrainingRun, Seat] | None:
    """A node rank (1 .. nnodes - 1) in the running attempt of a multi-host run; None when the run is
    not running, has no rendezvous yet, or every rank is taken (a repeated join task is harmless)."""
    run = TrainingRun.objects.select_for_update().select_related("target").filter(
        pk=run_id, status=TrainingRun.Status.RUNNING).exclude(rendezvous="").first()
    hosts = launch_of(run.config).nnodes if run else 1
    if run is None or run.hosts_joined >= hosts - 1:
        return None
    run.hosts_joined += 1
    run.save(update_fields=["hosts_joined"])
    _log(run.pk, f"{worker} joined as host {run.hosts_joined} of {hosts}")
    return run, Seat(Claim(run.pk, run.attempt), run.hosts_joined, run.rendezvous)


def run_is_held(*, claim: Claim) -> bool:
    """Whether the attempt is still running: a joined host stops its processes once it is not."""
    return _held(claim).exists()


def run_succeeded_in(*, claim: Claim) -> bool:
    """Whether the run finished successfully in this attempt (a retry would hold a higher attempt)."""
    return TrainingRun.objects.filter(pk=claim.run_id, status=TrainingRun.Status.SUCCEEDED,
                                      attempt=claim.attempt).exists()


def _held(claim: Claim):
    return TrainingRun.objects.filter(pk=claim.run_id, status=TrainingRun.Status.RUNNING, attempt=claim.attempt)


def run_heartbeat(*, claim: Claim) -> str:
    """'ok', 'cancel' (a curator asked to stop) or 'lost' (the run is no longer ours)."""
    if not _held(claim).update(heartbeat_at=timezone.now()):
        return "lost"
    return "cancel" if _held(claim).filter(cancel_requested_at__isnull=False).exists() else "ok"


def run_progress(*, claim: Claim, fraction: float, stage: str) -> None:
    _held(claim).update(progress=min(max(fraction, 0.0), 1.0), stage=stage[:100], heartbeat_at=timezone.now())


def run_metric_add(*, claim: Claim, step: int, values: Mapping[str, float]) -> None:
    if _held(claim).exists():
        RunMetric.objects.create(run_id=claim.run_id, step=step, values=dict(values))


def run_log(*, claim: Claim, message: str) -> None:
    if _held(claim).exists():
        _log(claim.run_id, message)


def _log(run_id: int, message: str) -> None:
    line = f"{timezone.now():%Y-%m-%d %H:%M:%S} {message}\n"
    TrainingRun.objects.filter(pk=run_id).update(log=Concat(F("log"), Value(line)))


@transaction.atomic
def run_succeed(
    *, claim: Claim, metrics: Mapping[str, float], summary: Mapping[str, Any], artifact_path: str,
    files: list[dict[str, Any]], model_card: str,
) -> ModelArtifact | None:
    """Record the published model and finish the run, together; None if the run is no longer ours."""
    run = _held(claim).select_for_update().select_related("target").first()
    if run is None:
        return None
    repo = _repo_take_number(target_name=run.target.name, method=run.method)
    artifact = ModelArtifact.objects.create(
        run=run, target=run.target, method=run.method, repo=repo, repo_number=repo.last_number,
        base_model=run.base_model,
        name=f"{run.target.name}-v{run.target.version}-{run.method}-run{run.pk}", path=artifact_path,
        files=files, metrics=dict(metrics), model_card=model_card,
    )
    run.status, run.progress, run.stage = TrainingRun.Status.SUCCEEDED, 1.0, "done"
    run.metrics, run.summary, run.finished_at = dict(metrics), dict(summary), timezone.now()
    run.save(update_fields=["status", "progress", "stage", "metrics", "summary", "finished_at"])
    _log(run.pk, f"succeeded; model {artifact.name} published with {len(files)} files")
    return artifact


def _repo_take_number(*, target_name: str, method: str) -> ModelRepo:
    """The model's repo, its counter moved on to the model's number. The row stays locked until the
    caller's transaction ends, so two runs finishing at once take numbers one after the other."""
    repo, _ = ModelRepo.objects.select_for_update().get_or_create(target_name=target_name, method=method)
    repo.last_number += 1
    repo.save(update_fields=["last_number"])
    return repo


@transaction.atomic  # the status and its log line appear together
def run_fail(*, claim: Claim, error: str) -> None:
    if _held(claim).update(status=TrainingRun.Status.FAILED, error=error, finished_at=timezone.now(), stage="failed"):
        _log(claim.run_id, f"failed: {error}")


@transaction.atomic  # the status and its log line appear together
def run_mark_cancelled(*, claim: Claim) -> None:
    if _held(claim).update(status=TrainingRun.Status.CANCELLED, finished_at=timezone.now(), stage="cancelled"):
        _log(claim.run_id, "cancelled; the worker stopped")


# --- recovery: the reaper and restarted workers ------------------------------------------------


def runs_reap_stale(*, stale_after: timedelta = STALE_AFTER) -> dict[str, int]:
    """Runs whose worker stopped beating: resume from a checkpoint, or fail with the reason."""
    cutoff = timezone.now() - stale_after
    stale = TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, heartbeat_at__lt=cutoff)
    outcomes: dict[str, int] = {}
    for run in stale.only("pk", "uuid", "attempt", "worker", "heartbeat_at", "cancel_requested_at", "task_id"):
        last = f"{run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
        reason = f"worker {run.worker or '?'} stopped sending heartbeats (last at {last}, over {int(stale_after.total_seconds())} s ago)"
        outcome = _recover(run, reason)
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def runs_recover_orphans(*, worker: str) -> dict[str, int]:
    """A worker that starts holds no run yet, so any run still `running` under its name was cut off."""
    outcomes: dict[str, int] = {}
    for run in TrainingRun.objects.filter(status=TrainingRun.Status.RUNNING, worker=worker):
        outcome = _recover(run, f"worker {worker} restarted while running it")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return outcomes


def _recover(run: TrainingRun, reason: str) -> str:
    claim = Claim(run.pk, run.attempt)
    if run.cancel_requested_at:
        run_mark_cancelled(claim=claim)
        return "cancelled"
    checkpoint = checkpoint_latest(run_dir(run.uuid) / "work" / "checkpoints")  # on this disk or in the bucket
    if checkpoint is None:
        run_fail(claim=claim, error=f"The {reason} before saving any checkpoint, so it cannot resume. "
                                    "Start a new run.")
        return "failed"
    if run.attempt >= MAX_ATTEMPTS:
        run_fail(claim=claim, error=f"The {reason}, and it has already been started {run.attempt} times; "
                                    "giving up. Look at its log for what stops the worker.")
        return "failed"
    task_id = str(uuid.uuid4())
    with transaction.atomic():
        if not _held(claim).update(status=TrainingRun.Status.QUEUED, task_id=task_id, stage="queued to resume"):
            return "skipped"
        _log(run.pk, f"the {reason}; queued again to resume from {checkpoint.rsplit('/', 1)[-1]}")
        transaction.on_commit(lambda: _dispatch(run.pk, task_id))
    return "resumed"
