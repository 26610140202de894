"""Staff pages for the moral graph: import a published Meaning Alignment Institute study as a closed
campaign, and ask a worker to write wisdom-upgrade stories for a campaign's values."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.dashboard.access import staff_member_required
from elicitation.domain.moral_graph_mai import StudyFile
from elicitation.models import Campaign, CampaignJob
from elicitation.selectors.campaigns import campaign_jobs_recent
from elicitation.services.moral_graph import mai_study_import, upgrade_stories_request


@staff_member_required
def import_mai(request: HttpRequest) -> HttpResponse:
    form = {"title": "", "description": "", "questions": ""}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        uploads = {key: request.FILES.get(key) for key in ("values", "edges")}
        errors = {key: [f"Choose the {key} file."] for key, upload in uploads.items() if upload is None}
        if not errors:
            try:
                summary = mai_study_import(
                    title=form["title"],
                    description=form["description"].strip(),
                    questions=[line.strip() for line in form["questions"].splitlines() if line.strip()],
                    values=StudyFile(name=uploads["values"].name, content=uploads["values"].read()),
                    edges=StudyFile(name=uploads["edges"].name, content=uploads["edges"].read()),
                )
            except ValidationError as exc:
                errors = exc.message_dict
            else:
                messages.success(
                    request,
                    f"Imported “{summary.campaign.title}”: {summary.values} values, {summary.contexts} contexts, "
                    f"{summary.votes} votes by {summary.voters} voters, {summary.stories} stories; "
                    f"{summary.repeats} repeated votes counted once.",
                )
                return redirect("dashboard:campaign_detail", campaign_id=summary.campaign.pk)
    return render(request, "dashboard/import_mai.html", {"form": form, "errors": errors}, status=400 if errors else 200)


@staff_member_required
@require_POST
@vary_on_headers("HX-Request")
def upgrade_stories(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    job = upgrade_stories_request(campaign=campaign, user=request.user)
    if request.htmx:
        return render(request, "dashboard/jobs.html", upgrade_jobs_context(campaign))
    if job.is_finished:
        messages.error(request, f"No upgrade stories to write: {job.note}")
    else:
        messages.success(request, "A worker is writing upgrade stories; the result shows under “Upgrade stories”.")
    return redirect("dashboard:campaign_detail", campaign_id=campaign.pk)


@staff_member_required
@require_GET
def upgrade_stories_jobs(request: HttpRequest, campaign_id: int) -> HttpResponse:
    """The fragment the campaign page polls while stories are being written."""
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    return render(request, "dashboard/jobs.html", upgrade_jobs_context(campaign))


def upgrade_jobs_context(campaign: Campaign) -> dict:
    jobs = campaign_jobs_recent(kind=CampaignJob.Kind.UPGRADE_STORIES, campaign=campaign)
    return {"jobs": jobs, "jobs_kind": CampaignJob.Kind.UPGRADE_STORIES,
            "jobs_active": any(not job.is_finished for job in jobs),
            "jobs_url": reverse("dashboard:upgrade_stories_jobs", args=[campaign.pk])}
