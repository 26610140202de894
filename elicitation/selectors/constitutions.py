"""Reads of principles and constitutions, for pages, exports and the training side."""
from __future__ import annotations

from collections import Counter
from typing import Any

from django.db.models import Count, Prefetch, QuerySet

from elicitation.domain.constitutions_salmon import SalmonPrinciple, salmon_write
from elicitation.models import Constitution, ConstitutionEntry, ConstitutionVersion, Principle, Question, ValuesCard


class DraftVersion(ValueError):
    """Only a published version is fixed; a draft may still change under whoever reads it."""


def constitution_version_entries(version_id: int) -> list[dict[str, str]]:
    """The principles of a published version, in order: name, definition, negated_definition.

    Raises ConstitutionVersion.DoesNotExist for an unknown id and DraftVersion for a draft.
    """
    version = ConstitutionVersion.objects.get(pk=version_id)
    if version.published_at is None:
        raise DraftVersion(f"{version} is a draft; publish it first.")
    return [
        {"name": name, "definition": definition, "negated_definition": negated}
        for name, definition, negated in _unredacted(version).values_list("name", "definition", "negated_definition")
    ]


def constitution_version_salmon_json(*, version: ConstitutionVersion) -> str:
    """The version's principles as SALMON's JSON; entries a withdrawal redacted are left out (a note
    is not a principle to train towards)."""
    return salmon_write(
        SalmonPrinciple(name=e.name, definition=e.definition, negated_definition=e.negated_definition, weight=e.weight)
        for e in _unredacted(version)
    )


def _unredacted(version: ConstitutionVersion) -> QuerySet[ConstitutionEntry]:
    return version.entries.exclude(position__in=version.redactions.values("position")).order_by("position")


def constitution_versions_published() -> QuerySet:
    return (
        ConstitutionVersion.objects.filter(published_at__isnull=False)
        .select_related("constitution")
        .annotate(entry_count=Count("entries"))
        .order_by("constitution__title", "-number")
    )


def constitution_source(*, version_id: int) -> dict[str, Any]:
    """A published version's principles, its campaign's questions, and where the principles came from.

    Raises ConstitutionVersion.DoesNotExist, or DraftVersion (a ValueError) for a draft."""
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


def principle_list() -> QuerySet[Principle]:
    return Principle.objects.select_related("campaign", "source_value")


def principles_approved(*, excluding: set[int] = frozenset()) -> QuerySet[Principle]:
    return Principle.objects.filter(status=Principle.Status.APPROVED).exclude(pk__in=excluding)


def constitution_list() -> QuerySet[Constitution]:
    return Constitution.objects.annotate(n_versions=Count("versions")).prefetch_related(
        Prefetch("versions", queryset=ConstitutionVersion.objects.order_by("-number"))
    )


def constitution_versions(*, constitution: Constitution) -> list[ConstitutionVersion]:
    """Newest first, each with its entries in order; an entry a withdrawal redacted has `redacted_at`."""
    versions = list(constitution.versions.order_by("-number").prefetch_related(
        Prefetch("entries", queryset=ConstitutionEntry.objects.order_by("position")), "redactions",
    ))
    for version in versions:
        redacted = {r.position: r.redacted_at for r in version.redactions.all()}
        for entry in version.entries.all():
            entry.redacted_at = redacted.get(entry.position)
    return versions
