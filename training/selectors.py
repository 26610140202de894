"""Reads for targets, runs and models; and the read-only queries of elicited data that freezing needs."""
from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from .models import AlignmentTarget, ModelArtifact, RunMetric, TargetFile, TrainingRun

# --- elicited sources (read-only) ------------------------------------------------------------


def constitution_versions_published() -> QuerySet:
    from elicitation.models import ConstitutionVersion

    return (
        ConstitutionVersion.objects.filter(published_at__isnull=False)
        .select_related("constitution")
        .annotate(entry_count=Count("entries"))
        .order_by("constitution__title", "-number")
    )


def constitution_source(*, version_id: int) -> dict[str, Any]:
    """A published version's principles, its campaign's questions, and where the principles came from.

    Raises ConstitutionVersion.DoesNotExist, or DraftVersion (a ValueError) for a draft."""
    from elicitation.models import ConstitutionEntry, ConstitutionVersion, Question, ValuesCard
    from elicitation.selectors_principles import constitution_version_entries

    entries = constitution_version_entries(version_id)
    version = ConstitutionVersion.objects.select_related("constitution").get(pk=version_id)
    linked = ConstitutionEntry.objects.filter(version_id=version_id, principle__isnull=False)
    provenance = Counter(linked.values_list("principle__provenance", flat=True))
    value_ids = set(linked.filter(principle__source_value__isnull=False).values_list("principle__source_value", flat=True))
    campaign_id = version.constitution.campaign_id
    questions = list(Question.objects.filter(campaign_id=campaign_id).order_by("position", "pk")
                     .values_list("text", flat=True)) if campaign_id else []
    return {
        "label": f"Constitution “{version.constitution.title}” v{version.number}",
        "entries": entries,
        "questions": questions,
        "provenance": {
            "principles": len(entries),
            "negatable_principles": sum(bool(e["negated_definition"]) for e in entries),
            "principles_by_provenance": dict(sorted(provenance.items())),
            "source_values": len(value_ids),
            # People behind those values: counted, never named.
            "contributors_of_source_values": ValuesCard.objects.filter(canonical_id__in=value_ids)
            .values("participant_id").distinct().count() if value_ids else 0,
        },
    }


def graph_snapshots_recent(*, limit: int = 50) -> QuerySet:
    from elicitation.models import GraphSnapshot

    return GraphSnapshot.objects.select_related("campaign", "wave").defer("summary").order_by("-created_at")[:limit]


def graph_snapshot_source(*, snapshot_id: int) -> dict[str, Any]:
    from elicitation.models import GraphSnapshot

    snapshot = GraphSnapshot.objects.select_related("campaign", "wave").get(pk=snapshot_id)
    summary = snapshot.summary or {}
    wave = f", wave {snapshot.wave.number}" if snapshot.wave else ""
    return {
        "label": f"Moral graph of “{snapshot.campaign.title}”{wave} as of {snapshot.as_of:%Y-%m-%d %H:%M} UTC",
        "values": summary.get("values", []),
        "edges": summary.get("edges", []),
        "contexts": summary.get("contexts", {}),
        "vote_count": snapshot.vote_count,
        "as_of": snapshot.as_of.isoformat(),
    }


# --- targets, runs, models -------------------------------------------------------------------


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


def model_list() -> QuerySet[ModelArtifact]:
    return ModelArtifact.objects.select_related("target", "run")


def model_get(*, model_id: int) -> ModelArtifact | None:
    return ModelArtifact.objects.select_related("target", "run").filter(pk=model_id).first()
