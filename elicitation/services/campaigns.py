"""Writes for campaigns."""
from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from chorus.dispatch import dispatch_or_keep
from elicitation.models import (
    Activity,
    Campaign,
    CampaignJob,
    CanonicalCard,
    CardImpression,
    EdgeVote,
    Interview,
    Question,
    Statement,
    SurveyAnswer,
    SystemMessage,
    ValuesCard,
    Wave,
)

log = logging.getLogger(__name__)


@transaction.atomic
def campaign_create(
    *,
    title: str,
    questions: Sequence[str],
    description: str = "",
    activities: Sequence[str] = (Activity.INTERVIEW, Activity.VOTING, Activity.UPGRADES),
    status: str = Campaign.Status.DRAFT,
    slug: str = "",
) -> Campaign:
    title = title.strip()
    questions = [q.strip() for q in questions]
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "A campaign needs a title."
    elif len(title) > 200:
        errors["title"] = "A campaign title has at most 200 characters."
    if not questions or any(not q for q in questions):
        errors["questions"] = "A campaign needs at least one question, and no question may be empty."
    unknown = [a for a in activities if a not in Activity.values]
    if unknown:
        errors["activities"] = f"Unknown activities: {', '.join(unknown)}."
    if status not in Campaign.Status.values:
        errors["status"] = f"Unknown status {status!r}."
    slug = slugify(slug or title)[:80]
    if title and not slug:
        errors["title"] = "The title needs at least one letter or digit from A to Z or 0 to 9 (it makes the address)."
    elif Campaign.objects.filter(slug=slug).exists():
        errors["slug"] = f"A campaign with the address {slug!r} exists already."
    if errors:
        raise ValidationError(errors)
    campaign = Campaign.objects.create(
        title=title, slug=slug, description=description, activities=list(activities), status=status
    )
    Question.objects.bulk_create(Question(campaign=campaign, text=q, position=i) for i, q in enumerate(questions))
    return campaign


@dataclass(frozen=True)
class QuestionEdit:
    """One of a campaign's questions as the curator left it on the edit form."""

    question_id: int
    text: str
    remove: bool = False


@transaction.atomic
def campaign_update(
    *,
    campaign: Campaign,
    title: str,
    description: str,
    questions: Sequence[QuestionEdit],
    new_questions: Sequence[str],
    activities: Sequence[str],
) -> Campaign:
    """Changes a campaign's title, description, questions and activities, all or nothing.

    What participants already answered stays true: a question that has contributions (interviews,
    cards, values, votes on values) keeps its wording and cannot be removed, and an activity with
    contributions cannot be turned off. New questions go after the existing ones.
    """
    Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").get()
    title, description = title.strip(), description.strip()
    errors: dict[str, str] = {}
    if not title:
        errors["title"] = "A campaign needs a title."
    elif len(title) > 200:
        errors["title"] = "A campaign title has at most 200 characters."
    existing = {q.pk: q for q in campaign.questions.all()}
    edits = {e.question_id: e for e in questions if e.question_id in existing}
    answered = _questions_with_contributions(list(existing))
    for pk, edit in edits.items():
        text = edit.text.strip()
        if pk in answered and (edit.remove or text != existing[pk].text):
            errors[f"question-{pk}"] = ("Participants have answered this question, so it keeps its wording and "
                                        "cannot be removed. Add a new question instead.")
        elif not edit.remove and not text:
            errors[f"question-{pk}"] = "A question cannot be empty; tick “remove” to take it out."
    added = [q.strip() for q in new_questions if q.strip()]
    if all(edits.get(pk, QuestionEdit(pk, q.text)).remove for pk, q in existing.items()) and not added:
        errors["questions"] = "A campaign needs at least one question."
    unknown = [a for a in activities if a not in Activity.values]
    if unknown:
        errors["activities"] = f"Unknown activities: {', '.join(unknown)}."
    in_use = [label for value, label in Activity.choices
              if value in campaign.activities and value not in activities and _activity_has_contributions(campaign, value)]
    if in_use:
        errors["activities"] = (f"Participants have already taken part in {', '.join(in_use)}, so it stays on; "
                                f"close the campaign to stop contributions.")
    if errors:
        raise ValidationError(errors)
    for pk, edit in edits.items():
        question = existing[pk]
        if edit.remove:
            question.delete()
        elif edit.text.strip() != question.text:
            question.text = edit.text.strip()
            question.save(update_fields=["text"])
    last = max((q.position for q in existing.values()), default=-1)
    Question.objects.bulk_create(Question(campaign=campaign, text=q, position=last + 1 + i) for i, q in enumerate(added))
    campaign.title, campaign.description, campaign.activities = title, description, list(dict.fromkeys(activities))
    campaign.save(update_fields=["title", "description", "activities"])
    return campaign


def _questions_with_contributions(question_ids: list[int]) -> set[int]:
    sources = (Interview.objects, ValuesCard.objects, CanonicalCard.objects, CardImpression.objects)
    return {pk for rows in sources for pk in rows.filter(question_id__in=question_ids).values_list("question_id", flat=True)}


def _activity_has_contributions(campaign: Campaign, activity: str) -> bool:
    rows = {
        Activity.INTERVIEW: Interview.objects.filter(question__campaign=campaign),
        Activity.VOTING: CardImpression.objects.filter(question__campaign=campaign, decided_at__isnull=False),
        Activity.UPGRADES: EdgeVote.objects.filter(campaign=campaign),
        Activity.PRINCIPLES: Statement.objects.filter(campaign=campaign),
        Activity.COMPARISONS: SystemMessage.objects.filter(campaign=campaign),
        Activity.SURVEY: SurveyAnswer.objects.filter(campaign=campaign),
    }[activity]
    return rows.exists()


def campaign_set_status(*, campaign: Campaign, status: str) -> Campaign:
    if status not in Campaign.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    campaign.status = status
    campaign.save(update_fields=["status"])
    return campaign


@transaction.atomic
def wave_create(*, campaign: Campaign, label: str, starts_at: datetime | None) -> Wave:
    """The campaign's next wave, numbered after the last one; it must start after it too."""
    label = label.strip()
    errors: dict[str, str] = {}
    if len(label) > 100:
        errors["label"] = "A wave label has at most 100 characters."
    if starts_at is None or timezone.is_naive(starts_at):
        errors["starts_at"] = "A wave needs the date and time it starts."
    # Lock the campaign so two curators adding a wave at once get consecutive numbers.
    Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").get()
    last = Wave.objects.filter(campaign=campaign).order_by("-number").first()
    if last and "starts_at" not in errors and starts_at <= last.starts_at:
        errors["starts_at"] = (
            f"Wave {last.number} starts {timezone.localtime(last.starts_at):%Y-%m-%d %H:%M}; a new wave must start after it."
        )
    if errors:
        raise ValidationError(errors)
    return Wave.objects.create(campaign=campaign, number=last.number + 1 if last else 1, label=label, starts_at=starts_at)


class CampaignClosed(Exception):
    """The campaign takes no more contributions of this kind."""


def campaign_require_open(campaign: Campaign, *, doing: str, activity: str | None = None) -> None:
    """Refuses `doing` (e.g. "votes") unless the campaign is open and, if given, runs `activity`."""
    if not campaign.is_open:
        raise CampaignClosed(f"This study is closed, so {doing} are no longer taken.")
    if activity is not None and activity not in campaign.activities:
        raise CampaignClosed(f"This study does not ask for {doing}.")



# Background work a curator asks for --------------------------------------------------------------

# Past the hard time limit of every task that runs a job (31 minutes): its worker is gone.
JOB_STALE_AFTER = timedelta(minutes=35)


def campaign_job_queue(*, campaign: Campaign, kind: str, task: str, nothing_to_do: str = "", user=None) -> CampaignJob:
    """Records a job and queues `task` with its id once committed. With `nothing_to_do` (the reason,
    and what to do about it) the job is finished at once and nothing is queued, so the curator sees
    why. While a job of this kind is unfinished, that job is returned instead of a second one."""
    now = timezone.now()
    with transaction.atomic():
        Campaign.objects.select_for_update().filter(pk=campaign.pk).values_list("pk").get()  # one at a time
        CampaignJob.objects.filter(campaign=campaign, kind=kind, status__in=CampaignJob.UNFINISHED,
                                   created_at__lt=now - JOB_STALE_AFTER).update(
            status=CampaignJob.Status.FAILED, finished_at=now,
            note="The worker stopped without reporting back (it may have been restarted). Try again.")
        running = CampaignJob.objects.filter(campaign=campaign, kind=kind, status__in=CampaignJob.UNFINISHED).first()
        if running is not None:
            return running
        if nothing_to_do:
            return CampaignJob.objects.create(campaign=campaign, kind=kind, status=CampaignJob.Status.FINISHED,
                                              note=nothing_to_do, requested_by=user, started_at=now, finished_at=now)
        job = CampaignJob.objects.create(campaign=campaign, kind=kind, requested_by=user)
        transaction.on_commit(lambda: _job_dispatch(task, job.pk))
    return job


def _job_dispatch(task: str, job_id: int) -> None:
    try:
        sent = dispatch_or_keep(task, job_id)
    except Exception as exc:  # not the broker being down (that is kept and sent later): say so on the job
        log.exception("could not queue job %s", job_id)
        campaign_job_fail(job_id=job_id, note=f"Could not queue the work: {exc}")
        return
    if not sent:
        CampaignJob.objects.filter(pk=job_id, status=CampaignJob.Status.QUEUED).update(
            note="The task queue (Redis) is unreachable; the work is sent once it answers.")


def campaign_job_start(*, job_id: int) -> CampaignJob | None:
    """The worker takes a queued job; None if it is no longer queued (a repeat delivery does nothing)."""
    if not CampaignJob.objects.filter(pk=job_id, status=CampaignJob.Status.QUEUED).update(
            status=CampaignJob.Status.RUNNING, started_at=timezone.now()):
        return None
    return CampaignJob.objects.select_related("campaign").get(pk=job_id)


def campaign_job_progress(*, job_id: int, made: int) -> None:
    """How many so far, while the job runs (the page shows it)."""
    CampaignJob.objects.filter(pk=job_id, status=CampaignJob.Status.RUNNING).update(made=made)


def campaign_job_finish(*, job_id: int, made: int, note: str = "") -> None:
    CampaignJob.objects.filter(pk=job_id, status=CampaignJob.Status.RUNNING).update(
        status=CampaignJob.Status.FINISHED, made=made, note=note, finished_at=timezone.now())


def campaign_job_fail(*, job_id: int, note: str) -> None:
    CampaignJob.objects.filter(pk=job_id, status__in=CampaignJob.UNFINISHED).update(
        status=CampaignJob.Status.FAILED, note=note, finished_at=timezone.now())
