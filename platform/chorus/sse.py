"""Server-sent events for htmx's SSE extension."""
from __future__ import annotations

from collections.abc import Iterator

from django.http import StreamingHttpResponse
from django.utils.html import escape


def sse_event(event: str, text: str) -> str:
    """One event; the text is HTML-escaped because htmx swaps it into the page as HTML."""
    return sse_html(event, escape(text))


def sse_html(event: str, html: str) -> str:
    """One event carrying HTML as it is: only for HTML that is already escaped or sanitised."""
    return f"event: {event}\n" + "".join(f"data: {line}\n" for line in html.split("\n")) + "\n"


def sse_response(events: Iterator[str]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(events, content_type="text/event-stream")
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"  # let proxies pass tokens through as they come
    return response
