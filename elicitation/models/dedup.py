"""What deduplication keeps beside the values: the judge's calibration per backend, and the
borderline pairs that embedding-only deduplication leaves to a curator."""
from __future__ import annotations

from django.db import models

from elicitation.models.values import CanonicalCard, ValuesCard


class JudgeCalibration(models.Model):
    """One run of the same-value judge over the labelled pairs, for one backend.

    The latest finished run for the configured backend decides how cards are deduplicated
    (`selectors.dedup.dedup_mode`)."""

    QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"
    STATUSES = [(QUEUED, "queued"), (RUNNING, "running"), (DONE, "done"), (FAILED, "failed")]

    backend = models.CharField(max_length=300, help_text="chorus.llm.backend_identity() of the judge measured")
    status = models.CharField(max_length=10, choices=STATUSES, default=QUEUED)
    task_id = models.CharField(max_length=50, blank=True)
    pairs = models.PositiveIntegerField(default=0, help_text="labelled pairs judged")
    judged_so_far = models.PositiveIntegerField(default=0, help_text="progress while running")
    duplicates = models.PositiveIntegerField(default=0, help_text="of them, pairs of the same value")
    said_same_on_duplicates = models.PositiveIntegerField(default=0)
    said_same_on_different = models.PositiveIntegerField(default=0)
    p_value = models.FloatField(null=True, blank=True, help_text="one-sided binomial test against a coin flip")
    method = models.CharField(max_length=10, blank=True, help_text="logprobs, or json for backends without them")
    error = models.TextField(blank=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-requested_at", "-pk"]
        constraints = [
            # One calibration at a time per backend: a second request while one is pending is refused.
            models.UniqueConstraint(fields=["backend"], condition=models.Q(status__in=["queued", "running"]),
                                    name="one_pending_calibration_per_backend"),
        ]

    @property
    def correct(self) -> int:
        return self.said_same_on_duplicates + (self.pairs - self.duplicates - self.said_same_on_different)

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.pairs if self.pairs else None


class BorderlinePair(models.Model):
    """A card and a value whose policies embed between the tight and the loose threshold, which
    embedding-only deduplication does not merge by itself: a curator merges or keeps them apart."""

    PENDING, MERGED, KEPT_APART = "pending", "merged", "kept_apart"
    STATUSES = [(PENDING, "pending"), (MERGED, "merged"), (KEPT_APART, "kept apart")]

    card = models.ForeignKey(ValuesCard, on_delete=models.CASCADE, related_name="borderline_pairs")
    canonical = models.ForeignKey(CanonicalCard, on_delete=models.CASCADE, related_name="borderline_pairs")
    distance = models.FloatField()
    status = models.CharField(max_length=10, choices=STATUSES, default=PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["distance", "pk"]
        constraints = [models.UniqueConstraint(fields=["card", "canonical"], name="borderline_pair_unique")]
