"""Staff page for importing a preference dataset file as a preference-population target.

The upload streams to a temporary file on disk and stops at UPLOAD_MAX_BYTES (chorus.uploads); the import
runs on a worker (`training.tasks.preference_import_run`), and the page polls just its status
fragment until it shows the target made or the rows that refused the file.
"""
from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.vary import vary_on_headers

from chorus.dashboard.access import staff_member_required
from chorus.uploads import upload_too_large
from training import selectors
from training.preference_files import FIELDS, Columns, ColumnsError
from training.services.imports import preference_import_create


@staff_member_required
@vary_on_headers("HX-Request")
def targets_import(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        return _import_post(request)
    job = _job(request.GET.get("job", ""))
    if request.htmx and job is not None:
        return render(request, "dashboard/targets_import.html#status", {"job": job})
    return render(request, "dashboard/targets_import.html", _context(job=job))


def _import_post(request: HttpRequest) -> HttpResponse:
    form = {key: request.POST.get(key, "") for key in ("name", "map", "metadata", "ignore", "min_pairs_per_user")}
    upload = request.FILES.get("file")
    try:
        if upload_too_large(request):
            raise ValidationError({"file": f"The file is larger than the limit of "
                                           f"{settings.UPLOAD_MAX_BYTES:,} bytes."})
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


def _job(raw: str):
    return selectors.preference_import_get(import_id=int(raw)) if raw.isdigit() else None


def _context(*, job=None, form: dict | None = None, errors: dict | None = None) -> dict:
    return {"job": job, "form": form or {"name": "", "map": "", "metadata": "", "ignore": "", "min_pairs_per_user": "1"},
            "errors": errors or {}, "fields": FIELDS, "max_bytes": settings.UPLOAD_MAX_BYTES,
            "recent": selectors.preference_imports_recent()}
