"""Refusing bad input with a 400 that names the field, before it can reach the database.

Participant text is untrusted: a NUL character (which PostgreSQL text cannot hold), an id that is
not a number, or JSON nested deeper than any real payload must each end in a clear 400, never a 500,
and never in something half-written.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

NUL = "\x00"


class BadInput(BadRequest):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def posted_id(request: HttpRequest, name: str) -> int:
    """The whole number posted as `name`, or a 400 naming it."""
    raw = request.POST.get(name, "").strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise BadInput(name, "must be the id of one of the choices on the page." if raw else "choose one.")
    return int(raw)


def nul_field(pairs: Iterable[tuple[str, str]]) -> str | None:
    """The first field whose name or value holds a NUL character."""
    for key, value in pairs:
        if NUL in key or (isinstance(value, str) and NUL in value):
            return key.replace(NUL, "\\0")
    return None


class RefuseNulCharacters:
    """Query strings and form posts (file contents aside) may not hold NUL characters."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        field = nul_field(_pairs(request.GET))
        if field is None and request.method == "POST" and request.content_type != "application/json":
            field = nul_field(_pairs(request.POST))
        if field is not None:
            return bad_request(request, BadInput(field, "contains a NUL character (\\0), which text cannot hold."))
        return self.get_response(request)


def _pairs(query) -> Iterable[tuple[str, str]]:
    for key, values in query.lists():
        for value in values:
            yield key, value


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler400: says what was wrong when we know (BadInput); JSON for API clients."""
    field = getattr(exception, "field", None)
    message = getattr(exception, "message", None) or "This request could not be understood."
    if request.path.startswith(("/api/", "/hf/")):
        body = {"status": 400, "code": "bad_request", "message": f"{field}: {message}" if field else message}
        if field:
            body["fields"] = {field: [message]}
        return JsonResponse({"error": body}, status=400)
    return render(request, "400.html", {"field": field, "message": message}, status=400)
