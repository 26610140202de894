"""Staff pages for principles (authored, drafted from the moral graph, imported from SALMON) and versioned constitutions."""
from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.bad_input import posted_id
from chorus.dashboard.access import staff_member_required
from elicitation.models import (
    Campaign,
    CampaignJob,
    Constitution,
    ConstitutionEntry,
    ConstitutionVersion,
    Principle,
)
from elicitation.selectors.campaigns import campaign_jobs_recent
from elicitation.selectors.constitutions import (
    constitution_list,
    constitution_version_salmon_json,
    constitution_versions,
    principle_list,
    principles_approved,
)
from elicitation.selectors.moral_graph import campaigns_with_values
from elicitation.services import constitutions as svc

PRINCIPLE_FIELDS = ("name", "definition", "negated_definition", "kind")


# Principles ----------------------------------------------------------------------------------------


@staff_member_required
def principles_list(request: HttpRequest) -> HttpResponse:
    form = {"name": "", "definition": "", "negated_definition": "", "kind": Principle.Kind.RULE}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in PRINCIPLE_FIELDS}
        try:
            principle = svc.principle_create(**form)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, f"Principle “{principle.name}” added.")
            return redirect("dashboard:principles")
    principles = principle_list()
    return render(request, "dashboard/principles_list.html", {
        "form": form, "errors": errors, "kinds": Principle.Kind.choices,
        "proposed": [p for p in principles if p.status == Principle.Status.PROPOSED],
        "approved": [p for p in principles if p.status == Principle.Status.APPROVED],
        "campaigns": campaigns_with_values(), **draft_jobs_context(),
    }, status=400 if errors else 200)


@staff_member_required
def principle_edit(request: HttpRequest, principle_id: int) -> HttpResponse:
    principle = get_object_or_404(Principle, pk=principle_id)
    form = {key: getattr(principle, key) for key in PRINCIPLE_FIELDS}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in PRINCIPLE_FIELDS}
        try:
            svc.principle_update(principle=principle, **form)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, f"Principle “{principle.name}” saved. Published constitutions keep their wording.")
            return redirect("dashboard:principles")
    return render(request, "dashboard/principles_edit.html", {
        "principle": principle, "form": form, "errors": errors, "kinds": Principle.Kind.choices,
    }, status=400 if errors else 200)


@staff_member_required
@require_POST
def principle_review(request: HttpRequest, principle_id: int) -> HttpResponse:
    principle = get_object_or_404(Principle, pk=principle_id)
    if request.POST.get("action") == "approve":
        svc.principle_approve(principle=principle)
        messages.success(request, f"“{principle.name}” approved: it can join constitutions now.")
    else:
        try:
            svc.principle_discard(principle=principle)
            messages.success(request, f"“{principle.name}” discarded.")
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    return redirect("dashboard:principles")


@staff_member_required
@require_POST
@vary_on_headers("HX-Request")
def principles_draft(request: HttpRequest) -> HttpResponse:
    """The LLM drafts on a CPU worker (a call per value takes seconds); the outcome shows under the button."""
    campaign = get_object_or_404(Campaign, pk=posted_id(request, "campaign"))
    job = svc.principles_draft_request(campaign=campaign, user=request.user)
    if request.htmx:
        return render(request, "dashboard/jobs.html", draft_jobs_context())
    if job.is_finished:
        messages.error(request, f"No principles to draft from “{campaign.title}”: {job.note}")
    else:
        messages.success(request, f"A worker is drafting principles from “{campaign.title}”'s wisest values; "
                                  "the result shows under the button.")
    return redirect("dashboard:principles")


@staff_member_required
@require_GET
def principles_draft_jobs(request: HttpRequest) -> HttpResponse:
    """The fragment the principles page polls while drafts are being written."""
    return render(request, "dashboard/jobs.html", draft_jobs_context())


def draft_jobs_context() -> dict:
    jobs = campaign_jobs_recent(kind=CampaignJob.Kind.PRINCIPLE_DRAFTS)
    return {"jobs": jobs, "jobs_kind": CampaignJob.Kind.PRINCIPLE_DRAFTS,
            "jobs_active": any(not job.is_finished for job in jobs), "jobs_url": reverse("dashboard:principles_draft_jobs")}


@staff_member_required
@require_POST
def salmon_import(request: HttpRequest) -> HttpResponse:
    upload = request.FILES.get("file")
    if upload is None:
        messages.error(request, "Choose a SALMON principle file (.json).")
        return redirect("dashboard:principles")
    try:
        version = svc.salmon_import(name=upload.name, data=upload.read())
    except ValidationError as exc:
        messages.error(request, "Nothing was imported: " + "; ".join(exc.messages))
        return redirect("dashboard:principles")
    messages.success(request, f"Imported {version.entries.count()} principles into a draft of “{version.constitution}”.")
    return redirect("dashboard:constitution_detail", constitution_id=version.constitution_id)


# Constitutions -------------------------------------------------------------------------------------


@staff_member_required
def constitutions_list(request: HttpRequest) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    form = {"title": "", "description": ""}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        try:
            constitution = svc.constitution_create(**form)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            return redirect("dashboard:constitution_detail", constitution_id=constitution.pk)
    constitutions = constitution_list()
    return render(request, "dashboard/constitution_list.html",
                  {"constitutions": constitutions, "form": form, "errors": errors}, status=400 if errors else 200)


@staff_member_required
def constitution_detail(request: HttpRequest, constitution_id: int) -> HttpResponse:
    constitution = get_object_or_404(Constitution, pk=constitution_id)
    versions = constitution_versions(constitution=constitution)
    draft = next((v for v in versions if not v.is_published), None)
    in_draft = {e.principle_id for e in draft.entries.all()} if draft else set()
    return render(request, "dashboard/constitution_detail.html", {
        "constitution": constitution, "draft": draft,
        "published": [v for v in versions if v.is_published],
        "addable": principles_approved(excluding=in_draft),
    })


@staff_member_required
@require_POST
def constitution_change(request: HttpRequest, constitution_id: int) -> HttpResponse:
    """One edit of the draft: add, remove, move, publish; or start a new draft from the latest version."""
    constitution = get_object_or_404(Constitution, pk=constitution_id)
    action = request.POST.get("action", "")
    try:
        if action == "new_draft":
            svc.constitution_draft(constitution=constitution)
        elif action == "add":
            draft = svc.constitution_draft(constitution=constitution)
            principle = get_object_or_404(Principle, pk=posted_id(request, "principle"))
            svc.constitution_entry_add(version=draft, principle=principle)
        elif action in ("remove", "up", "down"):
            entry = get_object_or_404(ConstitutionEntry, pk=posted_id(request, "entry"),
                                      version__constitution=constitution)
            if action == "remove":
                svc.constitution_entry_remove(entry=entry)
            else:
                svc.constitution_entry_move(entry=entry, offset=-1 if action == "up" else 1)
        elif action == "publish":
            version = get_object_or_404(ConstitutionVersion, pk=posted_id(request, "version"),
                                        constitution=constitution)
            svc.constitution_version_publish(version=version, notes=request.POST.get("notes", ""))
            messages.success(request, f"Version {version.number} is published; it can no longer change.")
        else:
            messages.error(request, "Unknown change.")
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    return redirect("dashboard:constitution_detail", constitution_id=constitution.pk)


@staff_member_required
@require_GET
def constitution_version_salmon(request: HttpRequest, version_id: int) -> HttpResponse:
    version = get_object_or_404(ConstitutionVersion.objects.select_related("constitution"), pk=version_id)
    response = HttpResponse(constitution_version_salmon_json(version=version), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="constitution-{version.constitution_id}-v{version.number}.json"'
    return response
