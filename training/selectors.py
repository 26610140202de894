"""Reads for targets, runs and models. Elicited data is read through elicitation's selectors."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, Prefetch, Q, QuerySet

from training.chance import HeldOutVerdict, held_out_verdict
from training.models import AlignmentTarget, ModelArtifact, PreferenceImport, RunMetric, TargetFile, TrainingRun
from training.progress.items import DIMENSION_LABELS, DIMENSIONS
from training.storage import target_file_local


def target_list() -> QuerySet[AlignmentTarget]:
    return AlignmentTarget.objects.annotate(
        run_count=Count("runs", distinct=True), model_count=Count("models", distinct=True)
    ).prefetch_related(Prefetch("files", queryset=TargetFile.objects.order_by("name"))).order_by(
        "-created_at", "-pk")  # Meta.ordering does not survive the GROUP BY of the counts


def target_get(*, target_id: int) -> AlignmentTarget | None:
    return AlignmentTarget.objects.prefetch_related("files").filter(pk=target_id).first()


def campaign_timelines(*, campaign_id: int) -> QuerySet[AlignmentTarget]:
    """The timeline targets frozen from a campaign's waves, newest first, with their tracker runs counted."""
    return AlignmentTarget.objects.filter(kind=AlignmentTarget.Kind.TIMELINE, campaign_id=campaign_id).annotate(
        tracker_count=Count("runs", filter=Q(runs__method="progress"))).order_by("-created_at", "-pk")


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


def model_list(**filters) -> QuerySet[ModelArtifact]:
    """Models, newest first, with their target and run, without the model card or the run's log;
    `filters` are lookups. The dashboard's models list and GET /api/v1/models/ both read this."""
    return ModelArtifact.objects.select_related("target", "run").defer("model_card", "run__log").filter(**filters)


@dataclass(frozen=True)
class ModelHeadline:
    """What a list of models says of each: its size, and its headline result. A tracker (method
    progress) is scored by PG-Follow and PG-Predict, not held-out accuracy, so it has `tracking`
    and no `held_out`; any other model has `held_out` (None when its run measured none)."""
    size_bytes: int
    finished_at: datetime | None
    held_out: HeldOutVerdict | None
    tracking: list[dict] | None  # run_tracking's scores: key, label, tracker, baseline


def model_headline(*, artifact: ModelArtifact) -> ModelHeadline:
    """From the row and its run alone (model_list selects the run), so no query per model."""
    tracking = run_tracking(run=artifact.run)
    return ModelHeadline(
        size_bytes=sum(int(f.get("size_bytes", 0)) for f in artifact.files),
        finished_at=artifact.run.finished_at or artifact.created_at,
        held_out=None if tracking else held_out_verdict(artifact.metrics, artifact.run.summary or {}),
        tracking=tracking["scores"] if tracking else None)


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


Vector = tuple[float | None, ...]  # one value per dimension of DIMENSIONS; None where unmeasured


@dataclass(frozen=True)
class TrendWave:
    """One step of a timeline: the population's value vector in its wave, as frozen."""
    step: int
    wave: int
    label: str
    participants: int  # who answered the value survey in the wave
    mean: Vector | None  # None: nobody answered the value survey in this wave
    low: Vector | None
    high: Vector | None


@dataclass(frozen=True)
class TrendTracker:
    """One finished tracker run: its model's vector after each step, and the gap to the population."""
    run_id: int
    tracker: str  # "lifelong" or "extrapolative"
    vectors: tuple[Vector | None, ...]  # per step
    gaps: tuple[Vector | None, ...]  # per step: population minus tracker; None where the wave has no vector
    # Per step, the model's 95 % interval (bootstrap over survey items); None for runs that did not record it.
    lows: tuple[Vector | None, ...]
    highs: tuple[Vector | None, ...]


@dataclass(frozen=True)
class TimelineTrends:
    target: AlignmentTarget
    dims: tuple[str, ...]
    labels: tuple[str, ...]
    waves: tuple[TrendWave, ...]
    trackers: tuple[TrendTracker, ...]
    unfinished: tuple[TrainingRun, ...]  # tracker runs still queued or running: no line yet
    problem: str  # why the waves could not be read ("" when they could)


def timeline_trends(*, target: AlignmentTarget) -> TimelineTrends:
    """A timeline target's population vector per wave (from its frozen steps.jsonl, with intervals)
    and each succeeded tracker run's (method progress) vector per step, with the gaps between them."""
    waves, problem = _timeline_waves(target)
    runs = list(TrainingRun.objects.filter(target=target, method="progress").defer("log").order_by("pk"))
    trackers = tuple(_tracker(run, waves) for run in runs
                     if run.status == TrainingRun.Status.SUCCEEDED and (run.summary or {}).get("tracking"))
    unfinished = tuple(run for run in runs if run.status not in TrainingRun.FINISHED)
    return TimelineTrends(target=target, dims=DIMENSIONS, labels=tuple(DIMENSION_LABELS[d] for d in DIMENSIONS),
                          waves=waves, trackers=trackers, unfinished=unfinished, problem=problem)


def _timeline_waves(target: AlignmentTarget) -> tuple[tuple[TrendWave, ...], str]:
    file = next((f for f in target.files.all() if f.name == "steps.jsonl"), None)
    if file is None:
        return (), "This target has no steps.jsonl (it is not a timeline)."
    try:
        text = target_file_local(target.uuid, file.name, file.sha256).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:
        return (), f"The timeline's steps.jsonl cannot be read on this server ({exc})."
    rows = sorted((json.loads(line) for line in text.splitlines() if line.strip()), key=lambda r: r["step"])
    waves = []
    for row in rows:
        vector = row.get("population_vector") or {}
        waves.append(TrendWave(step=row["step"], wave=row.get("wave", row["step"] + 1), label=row.get("label", ""),
                               participants=int(vector.get("participants", 0)), mean=_by_dimension(vector, "mean"),
                               low=_by_dimension(vector, "low"), high=_by_dimension(vector, "high")))
    return tuple(waves), ""


def _by_dimension(vector: dict, key: str) -> Vector | None:
    """The vector's `key` list in DIMENSIONS order (a file with other dimensions maps by name)."""
    if not vector.get(key):
        return None
    values = dict(zip(vector.get("dims", DIMENSIONS), vector[key]))
    return tuple(values.get(d) for d in DIMENSIONS)


def _tracker(run: TrainingRun, waves: tuple[TrendWave, ...]) -> TrendTracker:
    tracking = run.summary["tracking"]
    rows = {row["step"]: row for row in tracking.get("rows", [])}
    dims = tracking.get("dims", DIMENSIONS)

    def per_step(key: str) -> tuple[Vector | None, ...]:
        return tuple(_by_dimension({"dims": dims, key: rows[w.step].get(key)}, key) if w.step in rows else None
                     for w in waves)

    vectors = per_step("vector")
    gaps = tuple(None if w.mean is None or v is None else
                 tuple(None if p is None or m is None else p - m for p, m in zip(w.mean, v))
                 for w, v in zip(waves, vectors))
    return TrendTracker(run_id=run.pk, tracker=run.summary.get("tracker") or run.config.get("tracker", ""),
                        vectors=vectors, gaps=gaps, lows=per_step("low"), highs=per_step("high"))
