"""Staff pages for alignment targets, training runs and trained models.

Targets: list, freeze (from a published constitution version, a moral-graph snapshot or a
campaign's judged comparisons), detail.
Runs: new (method, base model, config fields with help), detail with a live fragment (progress,
loss curve as server-drawn SVG, log) that htmx polls while the run is unfinished, cancel.
Models: a paginated list of every trained model with its headline result; each model's metrics,
model card, files with sha256, downloads and a copy-paste loading snippet.
"""
from __future__ import annotations

import io
import tarfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from chorus.dashboard.access import staff_member_required
from elicitation.selectors.comparisons import campaigns_with_judged_comparisons
from elicitation.selectors.constitutions import constitution_versions_published
from elicitation.selectors.moral_graph import graph_snapshots_recent
from training import object_store, selectors
from training.base_models import base_models_available
from training.chance import held_out_verdict
from training.configs import config_fields, method_module, method_names, methods_for_kind
from training.models import AlignmentTarget
from training.services.runs import run_cancel, run_create, run_target_problem
from training.services.targets import SOURCE_FIELDS, target_freeze
from training.storage import target_dir


@staff_member_required
def targets_list(request: HttpRequest) -> HttpResponse:
    return render(request, "dashboard/targets_list.html", {
        "targets": selectors.target_list(), "runs": selectors.run_list(limit=20), **_freeze_choices(),
    })


def _freeze_choices() -> dict:
    return {"versions": constitution_versions_published(), "snapshots": graph_snapshots_recent(),
            "campaigns": campaigns_with_judged_comparisons()}


@staff_member_required
def targets_new(request: HttpRequest) -> HttpResponse:
    form = {"kind": request.GET.get("kind", AlignmentTarget.Kind.CONSTITUTION), "name": "",
            "source": request.GET.get("source", ""),
            "extra_prompts": "", "min_pairs_per_user": "1"}
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        form = {key: request.POST.get(key, "") for key in form}
        try:
            target = _freeze(form, request.user)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, f"Target “{target}” is frozen.")
            return redirect("dashboard:targets_detail", target_id=target.pk)
    return render(request, "dashboard/targets_new.html",
                  {"form": form, "errors": errors, "kinds": AlignmentTarget.Kind.choices, **_freeze_choices()},
                  status=400 if errors else 200)


def _freeze(form: dict, user) -> AlignmentTarget:
    kind = form["kind"]
    if kind not in SOURCE_FIELDS:
        raise ValidationError({"kind": "Choose a constitution, a moral graph, a preference population or a timeline."})
    if not form["source"].isdigit():
        raise ValidationError({SOURCE_FIELDS[kind]: "Choose what to freeze."})
    min_pairs = form["min_pairs_per_user"].strip()
    if kind == AlignmentTarget.Kind.PREFERENCE_POPULATION and not min_pairs.isdigit():
        raise ValidationError({"min_pairs_per_user": "Enter a whole number."})
    return target_freeze(kind=kind, name=form["name"], source_id=int(form["source"]),
                         extra_prompts=form["extra_prompts"].splitlines(),
                         min_pairs_per_user=int(min_pairs) if min_pairs.isdigit() else 1, user=user)


@staff_member_required
@require_GET
def targets_detail(request: HttpRequest, target_id: int) -> HttpResponse:
    target = selectors.target_get(target_id=target_id)
    if target is None:
        raise Http404("No such target.")
    return render(request, "dashboard/targets_detail.html", {
        "target": target, "files": target.files.all(), "runs": selectors.target_runs(target=target),
        "models": target.models.select_related("run"),
        "trainers": [(m, run_target_problem(target=target, method=m)) for m in methods_for_kind(target.kind)],
    })


@staff_member_required
@require_GET
def targets_file(request: HttpRequest, target_id: int, name: str) -> FileResponse:
    target = selectors.target_get(target_id=target_id)
    if target is None or name not in {f.name for f in target.files.all()}:  # never a path the request makes up
        raise Http404("No such file.")
    if object_store.enabled():  # the bucket serves it, through a presigned URL
        return redirect(object_store.presigned_url(object_store.name_of(target_dir(target.uuid) / name),
                                                   filename=name))
    return FileResponse(open(target_dir(target.uuid) / name, "rb"), as_attachment=True, filename=name,
                        content_type="application/x-ndjson")


@staff_member_required
@require_GET
def targets_download(request: HttpRequest, target_id: int) -> StreamingHttpResponse:
    """The target's dataset files as one uncompressed tar, streamed file by file."""
    target = selectors.target_get(target_id=target_id)
    if target is None:
        raise Http404("No such target.")
    top = target_slug(target)
    names = sorted(f.name for f in target.files.all())
    if object_store.enabled():
        stream = _tar_stream_bucket(object_store.name_of(target_dir(target.uuid)), top, names)
    else:
        stream = _tar_stream(target_dir(target.uuid), top, names)
    response = StreamingHttpResponse(stream, content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{top}.tar"'
    return response


@staff_member_required
def runs_new(request: HttpRequest) -> HttpResponse:
    data = request.POST if request.method == "POST" else request.GET
    chosen = selectors.target_get(target_id=int(data["target"])) if data.get("target", "").isdigit() else None
    method = data.get("method") or next(iter(methods_for_kind(chosen.kind) if chosen else []), "salmon")
    if method not in method_names():
        raise Http404("No such method.")
    kinds = method_module(method).TARGET_KINDS
    fields = config_fields(method)
    base_models = base_models_available()
    form = {"target": data.get("target", ""),
            "base_model": data.get("base_model", base_models[0].path if base_models else ""),
            "config": {f.name: data.get(f"config.{f.name}", "") for f in fields}}
    targets = [(t, run_target_problem(target=t, method=method)) for t in selectors.target_list().filter(kind__in=kinds)]
    trainable = any(not problem for _, problem in targets)  # else the page says why instead of offering the form
    errors: dict[str, list[str]] = {}
    if request.method == "POST":
        config = {name: value for name, value in form["config"].items() if value != ""}
        try:
            if chosen is None:
                raise ValidationError({"target": "Choose a target." if trainable else
                                       f"No target {method} can train from is frozen yet; freeze or import one first."})
            run = run_create(target=chosen, method=method, base_model=form["base_model"], config=config,
                             user=request.user)
        except ValidationError as exc:
            errors = exc.message_dict
        else:
            messages.success(request, f"Run {run.pk} is queued on the gpu queue.")
            return redirect("dashboard:runs_detail", run_id=run.pk)
    elif chosen is not None:
        problem = run_target_problem(target=chosen, method=method)
        if problem:  # said before the curator fills in the rest
            errors["target"] = [problem]
    return render(request, "dashboard/runs_new.html", {
        "form": form, "errors": errors, "method": method, "kinds": [AlignmentTarget.Kind(k).label for k in kinds],
        "methods": [(name, ", ".join(AlignmentTarget.Kind(k).label for k in method_module(name).TARGET_KINDS))
                    for name in method_names()],
        "fields": [(f, form["config"][f.name], errors.get(f"config.{f.name}")) for f in fields],
        "targets": targets, "trainable": trainable,
        "freeze_links": [(AlignmentTarget.Kind(k).label, k) for k in kinds],
        "importable": AlignmentTarget.Kind.PREFERENCE_POPULATION in kinds,
        "base_models": base_models,
    }, status=400 if errors and request.method == "POST" else 200)


@staff_member_required
@require_GET
@vary_on_headers("HX-Request")
def runs_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_get(run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    context = {"run": run, "artifact": selectors.run_artifact(run=run),
               "curve": loss_curve(selectors.run_curve(run=run)),
               "held_out": held_out_verdict(run.metrics, run.summary) if run.status == run.Status.SUCCEEDED else None,
               "tracking": selectors.run_tracking(run=run)}
    if request.htmx:
        return render(request, "dashboard/runs_detail.html#live", context)
    return render(request, "dashboard/runs_detail.html", context)


@staff_member_required
@require_POST
def runs_cancel(request: HttpRequest, run_id: int) -> HttpResponse:
    run = selectors.run_get(run_id=run_id)
    if run is None:
        raise Http404("No such run.")
    try:
        run = run_cancel(run=run)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Cancelled." if run.is_finished else "Cancel requested; the worker stops shortly.")
    return redirect("dashboard:runs_detail", run_id=run_id)


def loss_curve(points: list[tuple[int, float]], *, width: int = 560, height: int = 180, pad: int = 36) -> dict | None:
    """An SVG polyline of (step, loss), scaled into the box; None with fewer than two points."""
    if len(points) < 2:
        return None
    steps, values = [s for s, _ in points], [v for _, v in points]
    lo, hi = min(values), max(values)
    span_x, span_y = (max(steps) - min(steps)) or 1, (hi - lo) or 1.0

    def xy(step: int, value: float) -> str:
        x = pad + (step - min(steps)) / span_x * (width - 2 * pad)
        y = height - pad - (value - lo) / span_y * (height - 2 * pad)
        return f"{x:.1f},{y:.1f}"

    return {"width": width, "height": height, "pad": pad, "points": " ".join(xy(s, v) for s, v in points),
            "first_step": min(steps), "last_step": max(steps), "lo": lo, "hi": hi, "last": values[-1],
            "bottom": height - pad, "right": width - pad}


MODELS_PER_PAGE = 25


@staff_member_required
@require_GET
def models_list(request: HttpRequest) -> HttpResponse:
    """Every trained model, newest first, each with its headline result (held-out accuracy against
    chance, or a tracker's PG scores) and size; the same reads as GET /api/v1/models/."""
    page = Paginator(selectors.model_list(), MODELS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "dashboard/models_list.html", {
        "page": page, "rows": [(a, selectors.model_headline(artifact=a)) for a in page],
    })


@staff_member_required
@require_GET
def models_detail(request: HttpRequest, model_id: int) -> HttpResponse:
    artifact = selectors.model_get(model_id=model_id)
    if artifact is None:
        raise Http404("No such model.")
    headline = selectors.model_headline(artifact=artifact)  # as the models list says it
    return render(request, "dashboard/models_detail.html", {
        "artifact": artifact,
        "folder": object_store.describe(artifact.path) if object_store.enabled() else Path(settings.MEDIA_ROOT) / artifact.path,
        "metrics": sorted(artifact.metrics.items()), "usage": method_module(artifact.method).USAGE,
        "redacted_after_training": selectors.model_redactions_after_training(artifact=artifact),
        "headline": headline, "held_out": headline.held_out,
    })


@staff_member_required
@require_GET
def models_file(request: HttpRequest, model_id: int, name: str) -> FileResponse:
    artifact = selectors.model_get(model_id=model_id)
    listed = {f["name"] for f in artifact.files} | {"checksums.sha256"} if artifact else set()
    if name not in listed:  # only the published files, never a path the request makes up
        raise Http404("No such file.")
    if object_store.enabled():  # the bucket serves it, through a presigned URL
        return redirect(object_store.presigned_url(f"{artifact.path}/{name}", filename=Path(name).name))
    return FileResponse(open(Path(settings.MEDIA_ROOT) / artifact.path / name, "rb"), as_attachment=True,
                        filename=Path(name).name)


@staff_member_required
@require_GET
def models_download(request: HttpRequest, model_id: int) -> StreamingHttpResponse:
    """The model folder as one uncompressed tar, streamed file by file."""
    artifact = selectors.model_get(model_id=model_id)
    if artifact is None:
        raise Http404("No such model.")
    names = [f["name"] for f in artifact.files] + ["checksums.sha256"]
    if object_store.enabled():
        stream = _tar_stream_bucket(artifact.path, artifact.name, names)
    else:
        stream = _tar_stream(Path(settings.MEDIA_ROOT) / artifact.path, artifact.name, names)
    response = StreamingHttpResponse(stream, content_type="application/x-tar")
    response["Content-Disposition"] = f'attachment; filename="{artifact.name}.tar"'
    return response


def target_slug(target: AlignmentTarget) -> str:
    return f"{slugify(target.name) or 'target'}-v{target.version}"


def _tar_stream(folder: Path, top: str, names: list[str]) -> Iterator[bytes]:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w|") as tar:
        for name in names:
            tar.add(folder / name, arcname=f"{top}/{name}")
            yield buffer.getvalue()  # at most one file's bytes are held at a time
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def _tar_stream_bucket(prefix: str, top: str, names: list[str]) -> Iterator[bytes]:
    """The same tar, each file streamed from the bucket."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w|") as tar:
        for name in names:
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size, body = object_store.size_and_body(f"{prefix}/{name}")
            tar.addfile(info, body)
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()
