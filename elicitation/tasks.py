"""Background LLM work on the CPU workers. Thin: each task loads its row and calls a service.

Services queue these by name (`chorus.dispatch`), so this module imports them and not the reverse.
"""
from collections.abc import Iterator
from contextlib import contextmanager

from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from elicitation.models import CanonicalCard, JudgeCalibration, ValuesCard
from elicitation.services.campaigns import (
    campaign_job_fail,
    campaign_job_finish,
    campaign_job_progress,
    campaign_job_start,
)
from elicitation.services.constitutions import principles_draft_from_graph, principles_draft_outlook
from elicitation.services.dedup import judge_calibrate as calibrate
from elicitation.services.dedup import judge_calibration_fail
from elicitation.services.moral_graph import upgrade_stories_outlook
from elicitation.services.moral_graph import upgrade_stories_propose as propose_stories
from elicitation.services.values import card_deduplicate as deduplicate
from elicitation.services.values import contexts_generate


@shared_task(name="elicitation.tasks.card_deduplicate", soft_time_limit=300, time_limit=330,
             autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=3)
def card_deduplicate(card_id: int) -> None:
    card = ValuesCard.objects.select_related("question", "canonical").filter(pk=card_id).first()
    if card is None or card.canonical_id:  # withdrawn meanwhile, or done by an earlier delivery
        return
    canonical = deduplicate(card=card)
    if not canonical.contexts.exists():
        contexts_generate(canonical=canonical)


@shared_task(name="elicitation.tasks.upgrade_stories_propose", soft_time_limit=1800, time_limit=1860)
def upgrade_stories_propose(job_id: int) -> None:
    """Writes the stories a curator asked for, and records on the job how many, or why none."""
    job = campaign_job_start(job_id=job_id)
    if job is None:  # done by an earlier delivery, or given up on
        return
    with _failing(job_id):
        result = propose_stories(campaign=job.campaign,
                                 progress=lambda made: campaign_job_progress(job_id=job_id, made=made))
    why = upgrade_stories_outlook(campaign=job.campaign) if not result.made and not result.failed else ""
    campaign_job_finish(job_id=job_id, made=result.made, note=_failures(result.failed, "story", why))


@shared_task(name="elicitation.tasks.canonical_contexts_generate", soft_time_limit=300, time_limit=330)
def canonical_contexts_generate(canonical_id: int) -> None:
    canonical = CanonicalCard.objects.select_related("question").filter(pk=canonical_id).first()
    if canonical is not None and not canonical.contexts.exists():
        contexts_generate(canonical=canonical)


@shared_task(name="elicitation.tasks.principles_draft", soft_time_limit=1800, time_limit=1860)
def principles_draft(job_id: int) -> None:
    """Drafts principles from every wisest value without one, a batch at a time, on a CPU worker, and
    records on the job how many, or why none."""
    job = campaign_job_start(job_id=job_id)
    if job is None:
        return
    drafted, failed = 0, []
    with _failing(job_id):
        while True:
            result = principles_draft_from_graph(campaign=job.campaign)
            drafted, failed = drafted + len(result.drafted), failed + result.failed
            campaign_job_progress(job_id=job_id, made=drafted)
            if not result.remaining or not result.drafted:  # done, or every attempt in the batch failed
                break
    why = principles_draft_outlook(campaign=job.campaign) if not drafted and not failed else ""
    campaign_job_finish(job_id=job_id, made=drafted, note=_failures(failed, "draft", why))


@contextmanager
def _failing(job_id: int) -> Iterator[None]:
    """Whatever stops the work (an error, the time limit) is recorded on the job, then raised."""
    try:
        yield
    except Exception as exc:
        campaign_job_fail(job_id=job_id, note=f"The worker stopped with an error: {exc}")
        raise


def _failures(failed: list[str], noun: str, why: str) -> str:
    if not failed:
        return why
    shown = "; ".join(failed[:3]) + (f"; and {len(failed) - 3} more" if len(failed) > 3 else "")
    return (f"The LLM could not write {len(failed)} {noun}{'s' if len(failed) != 1 else ''} ({shown}). "
            "Asking again retries them; a stronger model fails less.")


@shared_task(name="elicitation.tasks.judge_calibrate", soft_time_limit=1800, time_limit=1860)
def judge_calibrate(calibration_id: int) -> str:
    """Scores the same-value judge on the labelled pairs (about 1.5 s a pair for the bundled model on CPU)."""
    calibration = JudgeCalibration.objects.filter(pk=calibration_id).first()
    if calibration is None:
        return "gone"
    try:
        return calibrate(calibration=calibration).status
    except SoftTimeLimitExceeded:
        judge_calibration_fail(calibration=calibration, error="The calibration ran out of time (30 minutes).")
        return JudgeCalibration.FAILED
