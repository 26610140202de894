"""Participants write a system message, then compare two responses streamed side by side."""
from __future__ import annotations

from collections.abc import Iterator

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_http_methods

from chorus.bad_input import posted_id
from chorus.inference import InferenceError
from chorus.sse import sse_event, sse_html, sse_response
from elicitation.domain.text import markdown_html
from elicitation.models import DIMENSIONS, Comparison, SystemMessage
from elicitation.selectors.comparisons import comparisons_judged_by, system_message_of, system_messages_to_adopt
from elicitation.services import comparisons as svc
from elicitation.views.common import campaign_and_participant


def _participant(request: HttpRequest, slug: str):
    return campaign_and_participant(request, slug)


def _errors(exc: Exception) -> dict:
    if isinstance(exc, ValidationError):
        return exc.message_dict if hasattr(exc, "error_dict") else {"general": exc.messages}
    return {"general": [str(exc)]}


@require_http_methods(["GET", "POST"])
def compare_home(request: HttpRequest, slug: str) -> HttpResponse:
    """Write or adopt a system message, then start a comparison."""
    campaign, participant = _participant(request, slug)
    if participant is None:
        return redirect("elicitation:home", slug=slug)
    errors: dict = {}
    if request.method == "POST":
        try:
            action = request.POST.get("action")
            if action == "system_message":
                svc.system_message_write(participant=participant, text=request.POST.get("text", ""),
                                         dimensions={k: request.POST.get(k, "") for k, _, _ in DIMENSIONS})
                messages.success(request, "Your system message is saved.")
            elif action == "adopt":
                source = get_object_or_404(SystemMessage, pk=posted_id(request, "source"), campaign=campaign)
                svc.system_message_adopt(participant=participant, source=source)
                messages.success(request, "You adopted that system message.")
            elif action == "compare":
                prompt = request.POST.get("own_prompt", "").strip() or request.POST.get("prompt", "")
                comparison = svc.comparison_create(participant=participant, prompt=prompt)
                return redirect("elicitation:comparison", slug=slug, comparison_id=comparison.pk)
            return redirect("elicitation:compare", slug=slug)
        except (ValidationError, svc.ComparisonError) as exc:
            errors = _errors(exc)
    mine = system_message_of(participant=participant)
    others = system_messages_to_adopt(participant=participant)
    done = comparisons_judged_by(participant=participant)
    return render(request, "elicitation/compare.html", {
        "campaign": campaign, "mine": mine, "others": others, "errors": errors,
        "dimensions": [(k, label, hint, request.POST.get(k, "") if errors else "") for k, label, hint in DIMENSIONS],
        "posted": request.POST if errors else None, "done": done, "cap": svc.COMPARISONS_PER_PARTICIPANT,
    }, status=400 if errors else 200)


def _own_comparison(request: HttpRequest, slug: str, comparison_id: int):
    campaign, participant = _participant(request, slug)
    if participant is None:
        return campaign, None
    comparison = get_object_or_404(Comparison, pk=comparison_id, participant=participant)
    comparison.participant = participant  # already loaded, with its campaign
    return campaign, comparison


@require_http_methods(["GET", "POST"])
def comparison_page(request: HttpRequest, slug: str, comparison_id: int) -> HttpResponse:
    campaign, comparison = _own_comparison(request, slug, comparison_id)
    if comparison is None:
        return redirect("elicitation:home", slug=slug)
    errors: dict = {}
    if request.method == "POST":
        # The participant picks a side; map it back to A/B through the recorded order.
        side = request.POST.get("choice", "")
        choice = {"left": "a" if comparison.a_on_left else "b", "right": "b" if comparison.a_on_left else "a"}.get(
            side, side)
        try:
            svc.comparison_decide(comparison=comparison, choice=choice, reason=request.POST.get("reason", ""))
            messages.success(request, "Thank you, your judgement is saved.")
            return redirect("elicitation:compare", slug=slug)
        except (ValidationError, svc.ComparisonError) as exc:
            errors = _errors(exc)
    left, right = ("a", "b") if comparison.a_on_left else ("b", "a")
    return render(request, "elicitation/comparison.html", {
        "campaign": campaign, "comparison": comparison, "left": left, "right": right, "errors": errors,
        "identical_message": svc.IDENTICAL_PAIR,
    }, status=400 if errors else 200)


@require_GET
def comparison_stream(request: HttpRequest, slug: str, comparison_id: int, side: str) -> HttpResponse:
    _, comparison = _own_comparison(request, slug, comparison_id)
    if comparison is None or side not in ("a", "b"):
        return HttpResponse(status=404)
    return sse_response(_events(comparison, side))


def _events(comparison: Comparison, side: str) -> Iterator[str]:
    """The tokens as they come, then the stored response as sanitised Markdown in place of the raw text
    (it may differ: cut to whole sentences, or generated again when it matched the other side)."""
    try:
        for piece in svc.comparison_stream(comparison=comparison, side=side):
            yield sse_event("token", piece)
        yield sse_html("final", markdown_html(svc.comparison_response(comparison=comparison, side=side)))
    except InferenceError as exc:
        yield sse_event("failed", f"This response could not be generated ({exc}). Reload to try again.")
    yield sse_event("done", "")


@require_GET
def comparison_ready(request: HttpRequest, slug: str, comparison_id: int) -> HttpResponse:
    """Polled by the page: the vote form appears once both responses are stored."""
    campaign, comparison = _own_comparison(request, slug, comparison_id)
    if comparison is None:
        return HttpResponse(status=404)
    return render(request, "elicitation/comparison.html#vote", {
        "comparison": comparison, "campaign": campaign, "identical_message": svc.IDENTICAL_PAIR})
