"""Staff pages for statement voting: moderation, opinion groups, promotion to principles, Polis import."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.dashboard.access import staff_member_required
from elicitation.domain.statements_polis import ExportFile, PolisExportRefused, polis_summary_read
from elicitation.models import (
    Campaign,
    Statement,
)
from elicitation.selectors.statements import statement_campaigns, statement_groups, statements_for_moderation
from elicitation.services import statements as statement_svc
from elicitation.services.statements import polis_import


@staff_member_required
@require_GET
def statements_campaigns(request: HttpRequest) -> HttpResponse:
    campaigns = statement_campaigns()
    return render(request, "dashboard/statements_campaigns.html", {"campaigns": campaigns})


@staff_member_required
@require_GET
@vary_on_headers("HX-Request")
def statements_campaign(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    context = _campaign_context(campaign)
    if request.htmx:
        return render(request, "elicitation/_statement_groups.html", context)
    return render(request, "dashboard/statements_campaign.html", context | _moderation(campaign))


def _campaign_context(campaign: Campaign) -> dict:
    return {"campaign": campaign, "view": statement_groups(campaign=campaign),
            "poll_url": reverse("dashboard:statements_campaign", args=[campaign.pk])}


def _moderation(campaign: Campaign) -> dict:
    return {"statements": statements_for_moderation(campaign=campaign), "statuses": Statement.Status.choices}


@staff_member_required
@require_POST
def statement_moderate(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = get_object_or_404(Statement, pk=statement_id)
    try:
        statement_svc.statement_moderate(statement=statement, status=request.POST.get("status", ""))
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("dashboard:statements_campaign", campaign_id=statement.campaign_id)


@staff_member_required
@require_POST
def statement_promote(request: HttpRequest, statement_id: int) -> HttpResponse:
    statement = get_object_or_404(Statement, pk=statement_id)
    consensus = next((r.consensus for r in statement_groups(campaign=statement.campaign).ranked
                      if r.statement.pk == statement.pk), None)
    name = request.POST.get("name", "")
    try:
        principle = statement_svc.statement_promote(statement=statement, name=name, consensus=consensus)
    except ValidationError as exc:
        # The page again, with the name as typed and the reason beside it.
        context = _campaign_context(statement.campaign) | _moderation(statement.campaign) | {
            "promote_failed": {"statement": statement.pk, "name": name, "error": " ".join(exc.messages)}}
        return render(request, "dashboard/statements_campaign.html", context, status=400)
    messages.success(request, f"“{principle.name}” is now a principle; add it to a constitution.")
    return redirect("dashboard:statements_campaign", campaign_id=statement.campaign_id)


@staff_member_required
def statements_import_polis(request: HttpRequest) -> HttpResponse:
    errors: list[str] = []
    title = ""
    if request.method == "POST":
        title = request.POST.get("title", "")
        uploads = {key: request.FILES.get(key) for key in ("comments", "votes", "summary")}
        errors = [f"Choose the {key}.csv file." for key in ("comments", "votes") if uploads[key] is None]
        if not errors:
            files = {key: ExportFile(name=u.name, data=u.read()) for key, u in uploads.items() if u is not None}
            try:
                summary = polis_summary_read(files["summary"]) if "summary" in files else {}
                result = polis_import(
                    comments=files["comments"], votes=files["votes"], title=title or summary.get("topic", ""),
                    topic=summary.get("conversation-description", ""),
                    description=f"Imported from the Polis export {summary.get('url', '')}".strip() + ".",
                )
            except PolisExportRefused as exc:
                errors = exc.problems
            except ValidationError as exc:
                errors = exc.messages
            else:
                messages.success(request, f"Imported {result.statements} statements and {result.votes} votes by "
                                          f"{result.voters} voters ({result.superseded} earlier votes were replaced "
                                          "by the same voter's later one).")
                return redirect("dashboard:statements_campaign", campaign_id=result.campaign.pk)
    return render(request, "dashboard/statements_import_polis.html", {"errors": errors, "title": title},
                  status=400 if errors else 200)
