"""Staff page for importing a preference dataset file as a preference-population target.

The upload streams to a temporary file on disk and stops at PREFERENCE_IMPORT_MAX_BYTES; the import
runs on a worker (`training.tasks.preference_import_run`), and the page polls just its status
fragment until it shows the target made or the rows that refused the file.
"""
from __future__ import annotations

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.vary import vary_on_headers

from training import selectors
from training.preference_files import FIELDS, Columns, ColumnsError
from training.services.imports import preference_import_create


class LimitedUploadHandler(TemporaryFileUploadHandler):
    """Streams each file to a temporary file, and stops reading past the size limit."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.too_large = False

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        if start + len(raw_data) > settings.PREFERENCE_IMPORT_MAX_BYTES:
            self.too_large = True
            raise StopUpload(connection_reset=False)
        return super().receive_data_chunk(raw_data, start)


# The upload handlers must be in place before anything reads the body, and the CSRF check reads it:
# so the check runs inside the view, after they are set.
@csrf_exempt
@staff_member_required
@vary_on_headers("HX-Request")
def targets_import(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        handler = LimitedUploadHandler(request)
        request.upload_handlers = [handler]
        return _import_post(request, handler)
    job = _job(request.GET.get("job", ""))
    if request.htmx and job is not None:
        return render(request, "dashboard/targets_import.html#status", {"job": job})
    return render(request, "dashboard/targets_import.html", _context(job=job))


@csrf_protect
def _import_post(request: HttpRequest, handler: LimitedUploadHandler) -> HttpResponse:
    form = {key: request.POST.get(key, "") for key in ("name", "map", "metadata", "ignore", "min_pairs_per_user")}
    upload = request.FILES.get("file")
    try:
        if handler.too_large or _declared_too_large(request):
            raise ValidationError({"file": f"The file is larger than the limit of "
                                           f"{settings.PREFERENCE_IMPORT_MAX_BYTES:,} bytes."})
        if upload is None:
            raise ValidationError({"file": "Choose a file."})
        if not form["min_pairs_per_user"].strip().isdigit():
            raise ValidationError({"min_pairs_per_user": "Enter a whole number."})
        try:
            columns = Columns.parse(form["map"], metadata=form["metadata"], ignore=form["ignore"])
        except ColumnsError as exc:
            raise ValidationError({"map": str(exc)}) from None
        job = preference_import_create(name=form["name"], file_name=upload.name, chunks=upload.chunks(),
                                       columns=columns, min_pairs_per_user=int(form["min_pairs_per_user"]),
                                       user=request.user)
    except ValidationError as exc:
        return render(request, "dashboard/targets_import.html", _context(form=form, errors=exc.message_dict),
                      status=400)
    return redirect(f"{reverse('dashboard:targets_import')}?job={job.pk}")


def _declared_too_large(request: HttpRequest) -> bool:
    length = request.META.get("CONTENT_LENGTH", "")
    return length.isdigit() and int(length) > settings.PREFERENCE_IMPORT_MAX_BYTES + 1024 * 1024  # form fields


def _job(raw: str):
    return selectors.preference_import_get(import_id=int(raw)) if raw.isdigit() else None


def _context(*, job=None, form: dict | None = None, errors: dict | None = None) -> dict:
    return {"job": job, "form": form or {"name": "", "map": "", "metadata": "", "ignore": "", "min_pairs_per_user": "1"},
            "errors": errors or {}, "fields": FIELDS, "max_bytes": settings.PREFERENCE_IMPORT_MAX_BYTES,
            "recent": selectors.preference_imports_recent()}
