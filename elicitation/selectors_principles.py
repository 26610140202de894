"""Reads of principles and constitutions, for pages, exports and the training side."""
from __future__ import annotations

from .models import ConstitutionVersion
from .salmon_io import SalmonPrinciple, salmon_write


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
        for name, definition, negated in version.entries.order_by("position").values_list(
            "name", "definition", "negated_definition"
        )
    ]


def constitution_version_salmon_json(*, version: ConstitutionVersion) -> str:
    return salmon_write(
        SalmonPrinciple(name=e.name, definition=e.definition, negated_definition=e.negated_definition, weight=e.weight)
        for e in version.entries.order_by("position")
    )
