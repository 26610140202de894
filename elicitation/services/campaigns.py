"""Writes for campaigns."""
from __future__ import annotations

from collections.abc import Sequence

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from ..models import Activity, Campaign, Question


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
    if not questions or any(not q for q in questions):
        errors["questions"] = "A campaign needs at least one question, and no question may be empty."
    unknown = [a for a in activities if a not in Activity.values]
    if unknown:
        errors["activities"] = f"Unknown activities: {', '.join(unknown)}."
    if status not in Campaign.Status.values:
        errors["status"] = f"Unknown status {status!r}."
    slug = slugify(slug or title)[:80]
    if Campaign.objects.filter(slug=slug).exists():
        errors["slug"] = f"A campaign with the address {slug!r} exists already."
    if errors:
        raise ValidationError(errors)
    campaign = Campaign.objects.create(
        title=title, slug=slug, description=description, activities=list(activities), status=status
    )
    Question.objects.bulk_create(Question(campaign=campaign, text=q, position=i) for i, q in enumerate(questions))
    return campaign


def campaign_set_status(*, campaign: Campaign, status: str) -> Campaign:
    if status not in Campaign.Status.values:
        raise ValidationError({"status": f"Unknown status {status!r}."})
    campaign.status = status
    campaign.save(update_fields=["status"])
    return campaign
