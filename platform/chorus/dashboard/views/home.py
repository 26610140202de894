"""Staff dashboard: services and workers at a glance, queue probes, the LLM playground, API tokens."""
from __future__ import annotations

import secrets
from collections.abc import Iterator

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus import llm
from chorus.accounts import services as account_services
from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import ApiToken, Scope
from chorus.accounts.selectors import api_tokens_for_user
from chorus.dashboard import selectors, services
from chorus.dashboard.access import staff_member_required
from chorus.health import problems
from chorus.inference import InferenceError
from chorus.sse import sse_event, sse_response
from elicitation.selectors.campaigns import campaign_list

PLAYGROUND_MAX_CHARS = 2000


@staff_member_required
def home(request: HttpRequest) -> HttpResponse:
    campaigns = [(c, join_token_make(campaign_id=c.pk)) for c in campaign_list()]
    return render(request, "dashboard/home.html", {"campaigns": campaigns, **_probes_context()})


@staff_member_required
@require_GET
def services_status(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/home.html#services", {"problems": problems()})


@staff_member_required
@require_GET
def workers(request: HttpRequest) -> HttpResponse:
    try:
        online = selectors.workers_online()
        error = ""
    except Exception as exc:  # broker down: say so in the panel rather than failing the page
        online, error = [], f"Could not reach the broker: {exc}"
    return render(request, "dashboard/home.html#workers", {"workers": online, "workers_error": error})


@staff_member_required
@vary_on_headers("HX-Request")
def probes(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        try:
            services.queue_probe_send(queue=request.POST.get("queue", ""), user=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
    if not request.htmx:
        return redirect("dashboard:home")
    return render(request, "dashboard/home.html#probes", _probes_context())


def _probes_context() -> dict:
    return {"probes": selectors.queue_probes_recent(), "waiting_for_broker": selectors.tasks_waiting_for_broker()}


@staff_member_required
def playground(request: HttpRequest) -> HttpResponse:
    """Type a prompt, watch the configured backend stream its answer token by token."""
    context: dict = {}
    if request.method == "POST":
        prompt = request.POST.get("prompt", "").strip()
        if not prompt or len(prompt) > PLAYGROUND_MAX_CHARS:
            context["error"] = f"Write a prompt of 1 to {PLAYGROUND_MAX_CHARS} characters."
        else:
            stream_id = secrets.token_urlsafe(8)
            request.session[f"playground.{stream_id}"] = prompt
            context.update(stream_id=stream_id, prompt=prompt)
        if request.htmx:
            return render(request, "dashboard/playground.html#reply", context, status=400 if "error" in context else 200)
    context.update(backend=settings.CHORUS_LLM_BACKEND, model=settings.CHORUS_LLM_MODEL)
    return render(request, "dashboard/playground.html", context)


@staff_member_required
@require_GET
def playground_stream(request: HttpRequest, stream_id: str) -> HttpResponse:
    prompt = request.session.pop(f"playground.{stream_id}", None)
    request.session.save()  # the generator below runs after the session middleware has finished
    if prompt is None:
        return HttpResponse("event: failed\ndata: This reply was already streamed or has expired.\n\n",
                            content_type="text/event-stream")
    return sse_response(_sse_reply(prompt))


def _sse_reply(prompt: str) -> Iterator[str]:
    try:
        for piece in llm.chat_backend().stream([{"role": "user", "content": prompt}], max_tokens=80):
            yield sse_event("token", piece)
    except InferenceError as exc:
        yield sse_event("failed", str(exc))
    yield sse_event("done", "")


@staff_member_required
def tokens(request: HttpRequest) -> HttpResponse:
    context: dict = {"scopes": Scope.choices}
    if request.method == "POST":
        try:
            token, plaintext = account_services.api_token_create(
                user=request.user, name=request.POST.get("name", ""), scopes=request.POST.getlist("scopes")
            )
            context["new_token"], context["plaintext"] = token, plaintext
        except ValidationError as exc:
            context["errors"] = exc.message_dict
    context["tokens"] = api_tokens_for_user(user=request.user)
    return render(request, "dashboard/tokens.html", context, status=400 if "errors" in context else 200)


@staff_member_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    token = get_object_or_404(ApiToken, pk=token_id, user=request.user)
    account_services.api_token_revoke(token=token)
    messages.success(request, f"Token “{token.name}” is revoked.")
    return redirect("dashboard:tokens")
