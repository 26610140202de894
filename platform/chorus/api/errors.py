"""One error shape for the whole API: {"error": {"status", "code", "message", "fields"?}}.

Messages say what was wrong with the request, never anything about other participants' data.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework import exceptions
from rest_framework.views import exception_handler

from chorus.api.throttling import throttle_unauthenticated


def api_exception_handler(exc, context):
    exc = throttle_unauthenticated(exc, context["request"], context["view"])
    if isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages})
    response = exception_handler(exc, context)
    if response is None:
        return None  # a real bug: Django's 500 handling applies
    body: dict = {"status": response.status_code, "code": _code(exc), "message": _message(exc, response)}
    if isinstance(exc, exceptions.ValidationError) and isinstance(response.data, dict):
        body["fields"] = {k: [str(m) for m in (v if isinstance(v, list) else [v])] for k, v in response.data.items()}
    response.data = {"error": body}
    return response


def _code(exc) -> str:
    codes = getattr(exc, "default_code", None) or "error"
    return str(codes)


def _message(exc, response) -> str:
    if isinstance(exc, exceptions.ValidationError):
        names = ", ".join(response.data) if isinstance(response.data, dict) else ""
        return f"Invalid request: {names}." if names else "Invalid request."
    detail = getattr(exc, "detail", None)
    return str(detail) if detail else str(exc)
