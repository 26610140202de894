"""Principles and versioned constitutions."""
from __future__ import annotations

from django.db import models


class Principle(models.Model):
    class Kind(models.TextChoices):
        RULE = "rule", "Rule"
        SAFETY_CONFIG = "safety_config", "Safety configuration"
        VALUE_DERIVED = "value_derived", "Derived from a value"

    class Provenance(models.TextChoices):
        AUTHORED = "authored", "Authored by staff"
        IMPORTED = "imported", "Imported"
        FROM_VALUE = "from_value", "Drafted from a moral-graph value"
        FROM_STATEMENT = "from_statement", "Promoted from a statement"

    class Status(models.TextChoices):
        PROPOSED = "proposed", "Proposed (awaiting a curator)"
        APPROVED = "approved", "Approved"

    name = models.CharField(max_length=200)
    definition = models.TextField()
    # SALMON's negated definition: following it should make a response worse.
    negated_definition = models.TextField(blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.RULE)
    provenance = models.CharField(max_length=20, choices=Provenance.choices, default=Provenance.AUTHORED)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPROVED)
    campaign = models.ForeignKey("elicitation.Campaign", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="principles")
    source_value = models.ForeignKey("elicitation.CanonicalCard", null=True, blank=True, on_delete=models.SET_NULL,
                                     related_name="principles")
    source_statement = models.ForeignKey("elicitation.Statement", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="principles")
    source_note = models.CharField(max_length=300, blank=True, help_text="e.g. the imported file, or the statement")
    # SALMON's sampling weight for the principle, kept so its JSON round-trips; None where the file has none.
    weight = models.PositiveIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name", "pk"]

    def __str__(self) -> str:
        return self.name


class Constitution(models.Model):
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    campaign = models.ForeignKey("elicitation.Campaign", null=True, blank=True, on_delete=models.SET_NULL,
                                 related_name="constitutions")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title


class ConstitutionVersion(models.Model):
    """A numbered version. Drafts are editable; once published a version never changes.

    Services refuse such changes, and PostgreSQL triggers (migration 0006) refuse them for any code path.
    """

    constitution = models.ForeignKey(Constitution, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    published_at = models.DateTimeField(null=True, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["constitution", "number"]
        constraints = [models.UniqueConstraint(fields=["constitution", "number"], name="constitution_version_unique")]

    def __str__(self) -> str:
        return f"{self.constitution} v{self.number}"

    @property
    def is_published(self) -> bool:
        return self.published_at is not None


class ConstitutionEntry(models.Model):
    """A principle's place in a version. The text is copied in, so a published version is frozen
    even if the principle is edited later; only a withdrawal may replace the text of a published
    entry, and only with the fixed note of `ConstitutionRedaction` (migration 0009)."""

    version = models.ForeignKey(ConstitutionVersion, on_delete=models.CASCADE, related_name="entries")
    principle = models.ForeignKey(Principle, null=True, on_delete=models.SET_NULL, related_name="entries")
    position = models.PositiveIntegerField()
    name = models.CharField(max_length=200)
    definition = models.TextField()
    negated_definition = models.TextField(blank=True)
    weight = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["version", "position"]
        constraints = [
            # Deferred, so a reorder can swap positions inside one transaction.
            models.UniqueConstraint(fields=["version", "position"], name="constitution_entry_position",
                                    deferrable=models.Deferrable.DEFERRED),
        ]


class ConstitutionRedaction(models.Model):
    """A published entry whose text was replaced because the participant it came from withdrew.

    It says where and when, never who or what: the version's page shows it beside the entry, so a
    reader sees why the entry reads `NAME: TEXT`. The database accepts that change to a published
    entry, and no other (migration 0009).
    """

    NAME = "Removed"
    TEXT = "Removed: the participant who wrote this withdrew."

    version = models.ForeignKey(ConstitutionVersion, on_delete=models.CASCADE, related_name="redactions")
    position = models.PositiveIntegerField()
    redacted_at = models.DateTimeField()

    class Meta:
        ordering = ["version", "position"]
        constraints = [models.UniqueConstraint(fields=["version", "position"], name="constitution_redaction_unique")]
