"""Staff manage campaigns: create one (questions, activities), edit it, open and close it, add waves."""
from __future__ import annotations

from datetime import datetime

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.accounts.join_links import join_token_make
from chorus.dashboard.access import staff_member_required
from chorus.dashboard.views.moral_graph import upgrade_jobs_context
from elicitation.models import Activity, Campaign
from elicitation.selectors.campaigns import campaign_counts
from elicitation.services.campaigns import (
    QuestionEdit,
    campaign_create,
    campaign_set_status,
    campaign_update,
    wave_create,
)

DEFAULT_ACTIVITIES = [Activity.INTERVIEW, Activity.VOTING, Activity.UPGRADES]


@staff_member_required
def campaign_new(request: HttpRequest) -> HttpResponse:
    form = {"title": "", "description": "", "questions": "", "activities": DEFAULT_ACTIVITIES}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in ("title", "description", "questions")}
        form["activities"] = request.POST.getlist("activities")
        try:
            campaign = campaign_create(
                title=form["title"],
                description=form["description"].strip(),
                # Blank lines only separate questions.
                questions=[line for line in form["questions"].splitlines() if line.strip()],
                activities=form["activities"],
            )
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, f"Campaign “{campaign.title}” is created as a draft. Open it when it is ready.")
            return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)
    return render(
        request, "dashboard/campaign_form.html",
        {"form": form, "errors": errors, "activities": Activity.choices},
        status=400 if errors else 200,
    )


@staff_member_required
def campaign_edit(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """Title, description, questions and activities after creation, within `campaign_update`'s rules."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    questions = list(campaign.questions.all())
    form = {"title": campaign.title, "description": campaign.description, "new_questions": "",
            "activities": campaign.activities}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in ("title", "description", "new_questions")}
        form["activities"] = request.POST.getlist("activities")
        edits = [QuestionEdit(q.pk, request.POST.get(f"question-{q.pk}", q.text), f"remove-{q.pk}" in request.POST)
                 for q in questions]
        try:
            campaign_update(campaign=campaign, title=form["title"], description=form["description"], questions=edits,
                            new_questions=form["new_questions"].splitlines(), activities=form["activities"])
        except ValidationError as exc:
            errors = exc.message_dict
            for question, edit in zip(questions, edits):  # show what the curator typed, not the stored text
                question.text, question.remove = edit.text, edit.remove
        else:
            messages.success(request, f"Campaign “{campaign.title}” is updated.")
            return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)
    rows = [{"question": q, "error": " ".join(errors.get(f"question-{q.pk}", []))} for q in questions]
    return render(request, "dashboard/campaign_edit.html", {
        "campaign": campaign, "form": form, "errors": errors, "rows": rows, "activities": Activity.choices,
    }, status=400 if errors else 200)


@staff_member_required
def campaign_detail(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return render(request, "dashboard/campaign_detail.html", _detail(request, campaign))


@staff_member_required
@require_POST
@vary_on_headers("HX-Request")
def campaign_status(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    error = ""
    try:
        campaign_set_status(campaign=campaign, status=request.POST.get("status", ""))
    except ValidationError as exc:
        error = " ".join(exc.messages)
    if request.htmx:
        context = _detail(request, campaign) | {"status_error": error}
        return render(request, "dashboard/campaign_detail.html#status", context, status=400 if error else 200)
    if error:
        messages.error(request, error)
    else:
        messages.success(request, f"Campaign “{campaign.title}” is {campaign.get_status_display().lower()}.")
    return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)


@staff_member_required
@require_POST
@vary_on_headers("HX-Request")
def wave_add(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    label, starts = request.POST.get("label", ""), request.POST.get("starts_at", "")
    errors: dict[str, list[str]] = {}
    try:
        wave = wave_create(campaign=campaign, label=label, starts_at=_local_moment(starts))
    except ValidationError as exc:
        errors = exc.message_dict
    else:
        if not request.htmx:
            messages.success(request, f"Wave {wave.number} is added.")
            return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)
    context = _detail(request, campaign) | {"wave_errors": errors, "wave_form": {"label": label, "starts_at": starts}}
    template = "dashboard/campaign_detail.html#waves" if request.htmx else "dashboard/campaign_detail.html"
    return render(request, template, context, status=400 if errors else 200)


def _local_moment(value: str) -> datetime | None:
    """A `datetime-local` input ("2025-03-01T09:30"), in the site's time zone; None if unreadable."""
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return timezone.make_aware(moment) if timezone.is_naive(moment) else moment


def _detail(request: HttpRequest, campaign: Campaign) -> dict:
    waves = list(campaign.waves.all())
    return {
        "campaign": campaign,
        "questions": list(campaign.questions.all()),
        "activities": [label for value, label in Activity.choices if value in campaign.activities],
        "join_url": request.build_absolute_uri(reverse("elicitation:join", args=[join_token_make(campaign_id=campaign.pk)])),
        "counts": campaign_counts(campaign=campaign),
        "waves": waves,
        "next_wave": waves[-1].number + 1 if waves else 1,
        "wave_form": {"label": "", "starts_at": ""},
        "wave_errors": {},
        **upgrade_jobs_context(campaign),
    }


