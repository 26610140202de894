"""Uploaded files stream to disk and stop at a size limit (settings.UPLOAD_MAX_BYTES).

Django keeps small uploads in memory and writes larger ones to a temporary file; this handler takes
the place of its temporary-file handler and stops reading a file that passes the limit, so an
oversized upload never fills the disk. Any middleware may be the first to read the body (ours read
`request.POST` to refuse NUL characters), so the limit is a setting for every upload rather than
one view's handler; a view that takes files asks `upload_too_large(request)`.
"""
from __future__ import annotations

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest


class SizeLimitedUploadHandler(TemporaryFileUploadHandler):
    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.UPLOAD_MAX_BYTES:
            self.request.upload_too_large = True  # the rest of the body is read and dropped
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


def upload_too_large(request: HttpRequest) -> bool:
    request.POST  # noqa: B018 (reads the body, if nothing has yet)
    return getattr(request, "upload_too_large", False)
