"""Background LLM work on the CPU workers. Thin: each task loads its row and calls a service.

Services queue these by name (`chorus.dispatch`), so this module imports them and not the reverse.
"""
from celery import shared_task
from celery.exceptions import SoftTimeLimitExceeded

from elicitation.models import Campaign, CanonicalCard, JudgeCalibration, ValuesCard
from elicitation.services.constitutions import principles_draft_from_graph
from elicitation.services.dedup import judge_calibrate as calibrate
from elicitation.services.dedup import judge_calibration_fail
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
def upgrade_stories_propose(campaign_id: int) -> int:
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    return propose_stories(campaign=campaign) if campaign else 0


@shared_task(name="elicitation.tasks.canonical_contexts_generate", soft_time_limit=300, time_limit=330)
def canonical_contexts_generate(canonical_id: int) -> None:
    canonical = CanonicalCard.objects.select_related("question").filter(pk=canonical_id).first()
    if canonical is not None and not canonical.contexts.exists():
        contexts_generate(canonical=canonical)


@shared_task(name="elicitation.tasks.principles_draft", soft_time_limit=1800, time_limit=1860)
def principles_draft(campaign_id: int) -> dict:
    """Drafts principles from every wisest value without one, a batch at a time, on a CPU worker."""
    campaign = Campaign.objects.filter(pk=campaign_id).first()
    drafted = failed = 0
    while campaign is not None:
        result = principles_draft_from_graph(campaign=campaign)
        drafted, failed = drafted + len(result.drafted), failed + len(result.failed)
        if not result.remaining or not result.drafted:  # done, or every attempt in the batch failed
            break
    return {"drafted": drafted, "failed": failed}


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
