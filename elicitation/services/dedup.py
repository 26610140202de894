"""Deduplication's mode, written: calibrating the configured same-value judge on the labelled pairs
(once per backend, kept in `JudgeCalibration`), and the curator's decisions on borderline pairs.

How the mode is chosen and used: `elicitation.domain.dedup`, `selectors.dedup.dedup_mode`,
`services.values.card_deduplicate`.
"""
from __future__ import annotations

import uuid
from datetime import timedelta

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from chorus import llm
from chorus.dispatch import dispatch_on_commit
from chorus.inference import InferenceError, NotSupported
from elicitation.domain.dedup import chance_p_value, labelled_pairs
from elicitation.models import BorderlinePair, JudgeCalibration
from elicitation.services.values import card_move, content_free_lean, judge_same_value

CALIBRATE_TASK = "elicitation.tasks.judge_calibrate"
STALE_AFTER = timedelta(minutes=31)  # the task's hard time limit
PROGRESS_EVERY = 10


def judge_calibration_request(*, queue: bool = True) -> JudgeCalibration:
    """Saves a calibration of the configured judge as queued, and queues it on a worker once committed
    (`queue=False`: the caller runs it, as the management command does). One at a time per backend."""
    task_id = str(uuid.uuid4()) if queue else ""
    backend = llm.backend_identity()
    try:
        with transaction.atomic():
            # A worker that died mid-run (or never took the task) would otherwise block every later request.
            JudgeCalibration.objects.filter(
                backend=backend, status__in=[JudgeCalibration.QUEUED, JudgeCalibration.RUNNING],
                requested_at__lt=timezone.now() - STALE_AFTER,
            ).update(status=JudgeCalibration.FAILED, finished_at=timezone.now(),
                     error="No worker finished it within the task's time limit; calibrate again.")
            calibration = JudgeCalibration.objects.create(backend=backend, task_id=task_id)
    except IntegrityError:
        raise ValidationError("A calibration of this judge is already queued or running; its result will "
                              "appear here.") from None
    if queue:
        dispatch_on_commit(CALIBRATE_TASK, calibration.pk, task_id=task_id)
    return calibration


def judge_calibrate(*, calibration: JudgeCalibration) -> JudgeCalibration:
    """Asks the judge about every labelled pair, as `card_deduplicate` would, and keeps the score.

    A repeat (the row is no longer queued) is a no-op. The judge is the configured backend, which must
    still be the one the calibration was requested for."""
    if not JudgeCalibration.objects.filter(pk=calibration.pk, status=JudgeCalibration.QUEUED).update(
            status=JudgeCalibration.RUNNING):
        calibration.refresh_from_db()
        return calibration
    if llm.backend_identity() != calibration.backend:
        return judge_calibration_fail(calibration=calibration, error=(
            f"This worker's judge is {llm.backend_identity()}, not {calibration.backend}: "
            "check that the web and worker processes share the CHORUS_LLM_* settings."))
    pairs = labelled_pairs()
    try:
        method = _judge_method()
        said_same = []
        for i, pair in enumerate(pairs, start=1):
            said_same.append(judge_same_value(pair.a, pair.b))
            if i % PROGRESS_EVERY == 0:  # the page shows how far it got: on CPU this takes minutes
                JudgeCalibration.objects.filter(pk=calibration.pk).update(judged_so_far=i)
    except InferenceError as exc:
        return judge_calibration_fail(calibration=calibration, error=f"The judge failed: {exc}")
    calibration.method = method
    calibration.pairs = len(pairs)
    calibration.duplicates = sum(p.same for p in pairs)
    calibration.said_same_on_duplicates = sum(s for s, p in zip(said_same, pairs) if p.same)
    calibration.said_same_on_different = sum(s for s, p in zip(said_same, pairs) if not p.same)
    calibration.p_value = chance_p_value(calibration.correct, calibration.pairs)
    calibration.status = JudgeCalibration.DONE
    calibration.finished_at = timezone.now()
    calibration.save(update_fields=["method", "pairs", "duplicates", "said_same_on_duplicates",
                                    "said_same_on_different", "p_value", "status", "finished_at"])
    return calibration


def _judge_method() -> str:
    """How `judge_same_value` will ask this backend: Yes/No log-probabilities, or a JSON answer."""
    try:
        content_free_lean(llm.chat_backend())
    except NotSupported:
        return "json"
    return "logprobs"


def judge_calibration_fail(*, calibration: JudgeCalibration, error: str) -> JudgeCalibration:
    calibration.status, calibration.error, calibration.finished_at = JudgeCalibration.FAILED, error, timezone.now()
    calibration.save(update_fields=["status", "error", "finished_at"])
    return calibration


def borderline_decide(*, pair: BorderlinePair, merge: bool) -> BorderlinePair:
    """The curator's answer on a borderline pair: merge the card into the value, or keep them apart.

    Raises ValidationError, changing nothing, when the pair was decided already."""
    with transaction.atomic():
        locked = BorderlinePair.objects.select_for_update().select_related("card__question", "canonical").get(
            pk=pair.pk)
        if locked.status != BorderlinePair.PENDING:
            raise ValidationError(f"This pair was decided already ({locked.get_status_display()}).")
        if merge and locked.card.canonical_id != locked.canonical_id:
            card_move(card=locked.card, canonical=locked.canonical)
        locked.status = BorderlinePair.MERGED if merge else BorderlinePair.KEPT_APART
        locked.decided_at = timezone.now()
        locked.save(update_fields=["status", "decided_at"])
    return locked
