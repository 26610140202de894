"""The interview page: chat streamed over SSE, the drafted card, edits, and the confirm action."""
from __future__ import annotations

from collections.abc import Iterator

from django.contrib import messages as flash
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.inference import InferenceError
from chorus.sse import sse_event, sse_response
from elicitation.models import Interview, InterviewMessage
from elicitation.services import interviews as svc
from elicitation.views.common import NotJoined, participant_question

TEMPLATE = "elicitation/interview.html"
CARD_FIELDS = ("title", "description", "policies")


def _load(request: HttpRequest, slug: str, question_id: int):
    campaign, participant, question = participant_question(request, slug, question_id)
    interview = svc.interview_start(participant=participant, question=question)
    return campaign, interview


def _context(campaign, interview: Interview, **extra) -> dict:
    messages = list(interview.messages.all())
    awaiting = bool(messages) and messages[-1].role == InterviewMessage.Role.USER
    return {
        "campaign": campaign, "interview": interview, "question": interview.question, "transcript": messages,
        "awaiting_reply": awaiting, "draft_version": svc.draft_version_of(interview.draft),
        "can_draft": any(m.role == InterviewMessage.Role.USER for m in messages), **extra,
    }


def _card_fields(request: HttpRequest) -> dict:
    return {"title": request.POST.get("title", ""), "description": request.POST.get("description", ""),
            "policies": request.POST.get("policies", "").splitlines()}


def _go_home(request: HttpRequest, campaign) -> HttpResponse:
    flash.success(request, "Your values card is saved. Thank you!")
    url = reverse("elicitation:home", kwargs={"slug": campaign.slug})
    if request.htmx:
        return HttpResponse(headers={"HX-Redirect": url})
    return redirect(url)


def _not_joined(request: HttpRequest, slug: str) -> HttpResponse:
    return redirect("elicitation:home", slug=slug)


@vary_on_headers("HX-Request")
def interview_page(request: HttpRequest, slug: str, question_id: int) -> HttpResponse:
    try:
        campaign, interview = _load(request, slug, question_id)
    except NotJoined:
        return _not_joined(request, slug)
    except ValidationError as exc:
        return render(request, "elicitation/closed.html", {"message": " ".join(exc.messages)}, status=400)
    return render(request, TEMPLATE, _context(campaign, interview))


@require_POST
def message(request: HttpRequest, slug: str, question_id: int) -> HttpResponse:
    """Stores the participant's message and returns it with a reply bubble that streams."""
    try:
        campaign, interview = _load(request, slug, question_id)
        sent = svc.interview_message_add(interview=interview, text=request.POST.get("text", ""))
    except NotJoined:
        return _not_joined(request, slug)
    except (ValidationError, svc.InterviewError) as exc:
        error = " ".join(exc.messages) if isinstance(exc, ValidationError) else str(exc)
        return render(request, f"{TEMPLATE}#chat_error", {"error": error}, status=400)
    if not request.htmx:
        return redirect("elicitation:interview", slug=slug, question_id=question_id)
    return render(request, f"{TEMPLATE}#exchange", {**_context(campaign, interview), "sent": sent})


@require_GET
def reply_stream(request: HttpRequest, slug: str, question_id: int) -> HttpResponse:
    try:
        _, interview = _load(request, slug, question_id)
    except NotJoined:
        return HttpResponse(status=403)
    return sse_response(_reply_events(interview))


def _reply_events(interview: Interview) -> Iterator[str]:
    try:
        for piece in svc.interview_reply_stream(interview=interview):
            yield sse_event("token", piece)
        stored = interview.messages.last()
        if stored is not None and stored.role == InterviewMessage.Role.ASSISTANT:
            yield sse_event("reply", stored.content)  # the turn as stored replaces the streamed words
    except InferenceError as exc:
        yield sse_event("failed", f"The interviewer could not reply ({exc}). Reload the page to try again.")
    yield sse_event("done", "")


@require_POST
def card_action(request: HttpRequest, slug: str, question_id: int) -> HttpResponse:
    """Draft, revise (in words), edit (directly) or confirm the card; renders the card panel."""
    try:
        campaign, interview = _load(request, slug, question_id)
    except NotJoined:
        return _not_joined(request, slug)
    action = request.POST.get("action")
    errors: dict = {}
    try:
        if action == "draft":
            svc.interview_draft(interview=interview)
        elif action == "revise":
            svc.interview_revise(interview=interview, request=request.POST.get("request", ""))
        elif action == "edit":
            svc.interview_edit(interview=interview, **_card_fields(request))
        elif action == "confirm":
            # The card as it stands in the page's fields is what is saved; a post without them saves the draft.
            fields = _card_fields(request) if "policies" in request.POST else {}
            svc.interview_confirm(interview=interview, draft_version=request.POST.get("draft_version", ""), **fields)
        else:
            errors["general"] = ["Unknown action."]
    except ValidationError as exc:
        errors = exc.message_dict if hasattr(exc, "error_dict") else {"general": exc.messages}
        errors = {("general" if k == "__all__" else k): v for k, v in errors.items()}
    except svc.InterviewError as exc:
        errors = {"general": [str(exc)]}
    if action == "confirm" and not errors:
        return _go_home(request, campaign)
    interview.refresh_from_db()
    edit_refused = any(field in errors for field in CARD_FIELDS)
    kept = errors and action in ("edit", "confirm") and "policies" in request.POST  # never lose what was typed
    context = _context(campaign, interview, errors=errors, posted=request.POST if kept else None,
                       edit_refused=edit_refused, with_transcript=True)
    if not request.htmx:
        return render(request, TEMPLATE, context, status=400 if errors else 200)
    return render(request, f"{TEMPLATE}#card_panel", context, status=400 if errors else 200)
