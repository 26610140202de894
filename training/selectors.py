"""Reads for targets, runs and models. Elicited data is read through elicitation's selectors."""
from __future__ import annotations

from datetime import datetime

from django.db.models import Count, Prefetch, QuerySet

from training.models import AlignmentTarget, ModelArtifact, PreferenceImport, RunMetric, TargetFile, TrainingRun


def target_list() -> QuerySet[AlignmentTarget]:
    return AlignmentTarget.objects.annotate(
        run_count=Count("runs", distinct=True), model_count=Count("models", distinct=True)
    ).prefetch_related(Prefetch("files", queryset=TargetFile.objects.order_by("name"))).order_by(
        "-created_at", "-pk")  # Meta.ordering does not survive the GROUP BY of the counts


def target_get(*, target_id: int) -> AlignmentTarget | None:
    return AlignmentTarget.objects.prefetch_related("files").filter(pk=target_id).first()


def target_runs(*, target: AlignmentTarget) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.filter(target=target).select_related("artifact").defer("log")


def run_list(*, limit: int = 100) -> QuerySet[TrainingRun]:
    return TrainingRun.objects.select_related("target", "artifact").defer("log")[:limit]


def run_get(*, run_id: int) -> TrainingRun | None:
    return TrainingRun.objects.select_related("target").filter(pk=run_id).first()


def run_artifact(*, run: TrainingRun) -> ModelArtifact | None:
    return ModelArtifact.objects.filter(run=run).first()


def run_curve(*, run: TrainingRun, name: str = "loss") -> list[tuple[int, float]]:
    """(step, value) points of one logged metric, in step order."""
    rows = RunMetric.objects.filter(run=run).order_by("step", "pk").values_list("step", "values")
    return [(step, float(values[name])) for step, values in rows if name in values]


def model_get(*, model_id: int) -> ModelArtifact | None:
    return ModelArtifact.objects.select_related("target", "run").filter(pk=model_id).first()


def run_list_for_api(**filters) -> QuerySet[TrainingRun]:
    """Runs with their target and published model, without the heavy text columns; `filters` are lookups."""
    return TrainingRun.objects.select_related("target", "artifact").defer("log", "artifact__model_card").filter(
        **filters)


def run_metrics(*, run: TrainingRun, name: str | None = None) -> QuerySet[RunMetric]:
    """A run's logged points in step order; only those that logged `name`, if given."""
    points = RunMetric.objects.filter(run=run).order_by("step", "pk")
    return points.filter(values__has_key=name) if name else points


def model_list_for_api(**filters) -> QuerySet[ModelArtifact]:
    """Models with their target and run, without the model card or the run's log; `filters` are lookups."""
    return ModelArtifact.objects.select_related("target", "run").defer("model_card", "run__log").filter(**filters)


def model_detail_queryset() -> QuerySet[ModelArtifact]:
    return ModelArtifact.objects.select_related("target", "run").defer("run__log")


def model_redactions_after_training(*, artifact: ModelArtifact) -> list[dict]:
    """The target's redactions (withdrawals that removed rows) made after the model's run started:
    the model may have learnt from rows the target no longer holds. Models are not retrained."""
    started = artifact.run.started_at or artifact.run.created_at
    return [r for r in artifact.target.redactions if datetime.fromisoformat(r["at"]) > started]


def preference_import_get(*, import_id: int) -> PreferenceImport | None:
    return PreferenceImport.objects.select_related("target").filter(pk=import_id).first()


def preference_imports_recent(*, limit: int = 10) -> QuerySet[PreferenceImport]:
    return PreferenceImport.objects.select_related("target")[:limit]


TRACKING_SCORES = (("pg_follow", "PG-Follow"), ("pg_predict", "PG-Predict"), ("pg_coevolve", "PG-Coevolve"))


def run_tracking(*, run: TrainingRun) -> dict | None:
    """A tracker run's scores (the tracker's, and the untrained base model's) and its per-step rows
    (the step's model folder, its cosine to the population now and a step ahead); None for other runs."""
    tracking = (run.summary or {}).get("tracking")
    if not tracking:
        return None
    metrics = run.metrics or {}
    scores = [{"key": key, "label": label, "tracker": metrics.get(key), "baseline": metrics.get(f"baseline_{key}")}
              for key, label in TRACKING_SCORES]
    return {"tracker": run.summary.get("tracker", ""), "ahead": tracking.get("ahead", 1),
            "scores": scores if any(s["tracker"] is not None for s in scores) else [],
            "steps": tracking.get("rows", [])}
