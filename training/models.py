"""Alignment targets (frozen datasets), training runs and the model artifacts they produce."""
from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AlignmentTarget(models.Model):
    """A named, versioned, immutable snapshot of what to train towards. Rows are only created,
    never edited: a new freeze of the same name gets the next version number. The one exception is
    a participant's withdrawal, which removes their rows from the files (and re-words values taken
    from their card) and records that it did in `redactions`."""

    class Kind(models.TextChoices):
        CONSTITUTION = "constitution", "Constitution"
        MORAL_GRAPH = "moral_graph", "Moral graph"
        PREFERENCE_POPULATION = "preference_population", "Preference population"
        TIMELINE = "timeline", "Timeline"

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200)
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=30, choices=Kind.choices)
    # The source stays linked while it exists; `source_label` keeps its description if it is deleted.
    constitution_version = models.ForeignKey(
        "elicitation.ConstitutionVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    graph_snapshot = models.ForeignKey(
        "elicitation.GraphSnapshot", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    campaign = models.ForeignKey(  # a preference population's or a timeline's campaign
        "elicitation.Campaign", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source_label = models.CharField(max_length=300)
    provenance = models.JSONField(default=dict, help_text="counts of the contributions behind the data")
    content_sha256 = models.CharField(max_length=64, help_text="over the dataset files' names and hashes")
    # [{"at": ISO time, "rows_removed": n, "rows_reworded": n}], one per withdrawal that changed the files.
    redactions = models.JSONField(default=list, blank=True,
                                  help_text="when a withdrawal changed the files, and how many rows; never who")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["name", "version"], name="target_name_version")]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class TargetFile(models.Model):
    """One JSONL dataset file of a target, stored under MEDIA_ROOT/training/targets/<uuid>/."""

    target = models.ForeignKey(AlignmentTarget, on_delete=models.CASCADE, related_name="files")
    name = models.CharField(max_length=100)
    sha256 = models.CharField(max_length=64)
    size_bytes = models.PositiveBigIntegerField()
    rows = models.PositiveIntegerField()

    class Meta:
        ordering = ["target", "name"]
        constraints = [models.UniqueConstraint(fields=["target", "name"], name="target_file_name")]


class TrainingRun(models.Model):
    """The single source of truth for one training job; workers report into this row."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELLED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    target = models.ForeignKey(AlignmentTarget, on_delete=models.PROTECT, related_name="runs")
    method = models.CharField(max_length=50)
    config = models.JSONField(help_text="every field of the method's validated config")
    base_model = models.CharField(max_length=500)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=100, blank=True)
    metrics = models.JSONField(default=dict, blank=True, help_text="final metrics")
    summary = models.JSONField(default=dict, blank=True)
    task_id = models.CharField(max_length=255, blank=True)
    attempt = models.PositiveIntegerField(default=0, help_text="how many times a worker has started this run")
    worker = models.CharField(max_length=200, blank=True)
    device = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    rendezvous = models.CharField(max_length=200, blank=True, help_text=(
        "multi-host runs: host:port where this attempt's hosts meet (torchrun), set by the first host"))
    hosts_joined = models.PositiveIntegerField(default=0, help_text="other hosts that took a node rank in this attempt")
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    log = models.TextField(blank=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["status", "heartbeat_at"], name="run_status_heartbeat")]

    def __str__(self) -> str:
        return f"run {self.pk} ({self.method} on {self.target})"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED


class RunMetric(models.Model):
    """One logged training step: the points of the loss curve."""

    run = models.ForeignKey(TrainingRun, on_delete=models.CASCADE, related_name="metric_points")
    step = models.PositiveIntegerField()
    values = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["run", "step", "pk"]


class ModelRepo(models.Model):
    """Every model one method trained towards one target name, served as one Hub repo. It numbers
    them `v1`, `v2`, ...; a number is given once, so a deleted model's number is never reused."""

    target_name = models.CharField(max_length=200)
    method = models.CharField(max_length=50)
    last_number = models.PositiveIntegerField(default=0, help_text="the number its newest model took")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["target_name", "method"], name="model_repo_target_method")]

    def __str__(self) -> str:
        return f"{self.target_name} ({self.method})"


class ModelArtifact(models.Model):
    """A trained model as published files, loadable by `from_pretrained` as downloaded."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    run = models.OneToOneField(TrainingRun, on_delete=models.PROTECT, related_name="artifact")
    target = models.ForeignKey(AlignmentTarget, on_delete=models.PROTECT, related_name="models")
    method = models.CharField(max_length=50)
    repo = models.ForeignKey(ModelRepo, on_delete=models.PROTECT, related_name="artifacts")
    repo_number = models.PositiveIntegerField(help_text="its `v<n>` in the repo, for good")
    base_model = models.CharField(max_length=500)
    name = models.CharField(max_length=200)
    path = models.CharField(max_length=500, help_text="folder, relative to MEDIA_ROOT")
    files = models.JSONField(help_text='[{"name", "sha256", "size_bytes"}]')
    metrics = models.JSONField(default=dict)
    model_card = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [models.UniqueConstraint(fields=["repo", "repo_number"], name="artifact_repo_number")]

    def __str__(self) -> str:
        return self.name


class PreferenceImport(models.Model):
    """One import of a preference dataset file queued from the dashboard or the API: the file
    waits under MEDIA_ROOT/training/imports/<uuid>/ until a worker checks and imports it (or
    refuses it), then is deleted. The row keeps the outcome: the target made, or the problems."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Checking and importing"
        SUCCEEDED = "succeeded", "Imported"
        FAILED = "failed", "Refused"

    FINISHED = (Status.SUCCEEDED, Status.FAILED)

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=200, help_text="the target's name")
    file_name = models.CharField(max_length=255, help_text="the uploaded file's name")
    format = models.CharField(max_length=10)
    size_bytes = models.PositiveBigIntegerField()
    columns = models.JSONField(default=dict, help_text="the column mapping (fields, metadata, ignore)")
    min_pairs_per_user = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    task_id = models.CharField(max_length=255, blank=True)
    report = models.JSONField(default=dict, blank=True, help_text="counts, skipped rows and problems")
    target = models.ForeignKey(AlignmentTarget, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    attempt = models.PositiveSmallIntegerField(default=0, help_text="how many times a worker has started it")
    heartbeat_at = models.DateTimeField(null=True, blank=True, help_text="last sign of life of the worker importing it")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"import {self.pk} of {self.file_name}"

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED
