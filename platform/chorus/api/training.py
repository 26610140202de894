"""Alignment targets, training runs and trained models.

Reads of targets need read:data (they are snapshots of elicited data); runs, their metrics and
models need read:models. Freezing a target, or importing a preference dataset file as one (and
reading how that import went), needs write:targets; starting or cancelling a run write:runs. Writes go through training's services, which name each bad field.
"""
from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.parsers import MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from chorus.api.hub_repos import artifact_commit, artifact_revision, hub_repo_id, target_slugs
from chorus.api.target_files import target_file_urls
from training import selectors
from training.chance import held_out_verdict
from training.models import AlignmentTarget, PreferenceImport, TrainingRun
from training.preference_files import Columns, ColumnsError
from training.selectors import target_list
from training.services.imports import preference_import_create
from training.services.runs import run_cancel, run_create
from training.services.targets import (
    MAX_MIN_PAIRS_PER_USER,
    SOURCE_FIELDS,
    target_freeze,
)

# --- targets -----------------------------------------------------------------------------------


class TargetFileOutput(serializers.Serializer):
    name = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    rows = serializers.IntegerField()
    url = serializers.SerializerMethodField(help_text="download with the same token (read:data)")
    signed_url = serializers.SerializerMethodField(help_text="download without a header, for an hour")

    def _urls(self, f) -> dict:
        return target_file_urls(self.context["request"], f.target_id, f.name)

    def get_url(self, f) -> str:
        return self._urls(f)["url"]

    def get_signed_url(self, f) -> str | None:
        return self._urls(f)["signed_url"]


class TargetRedactionOutput(serializers.Serializer):
    at = serializers.DateTimeField()
    rows_removed = serializers.IntegerField()
    rows_reworded = serializers.IntegerField(help_text="moral-graph values now in another participant's words")


class TargetOutput(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    version = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AlignmentTarget.Kind.choices)
    source_label = serializers.CharField()
    constitution_version = serializers.IntegerField(source="constitution_version_id", allow_null=True)
    graph_snapshot = serializers.IntegerField(source="graph_snapshot_id", allow_null=True)
    campaign = serializers.IntegerField(source="campaign_id", allow_null=True,
                                        help_text="the campaign whose comparisons a preference population holds")
    content_sha256 = serializers.CharField(help_text="over the dataset files' names and hashes")
    provenance = serializers.DictField(help_text="counts of the contributions behind the data, never who made them")
    redactions = TargetRedactionOutput(many=True, help_text="each time a participant's withdrawal changed the "
                                                            "files after the freeze; no one is named")
    files = TargetFileOutput(many=True)
    runs = serializers.IntegerField(source="run_count")
    models = serializers.IntegerField(source="model_count")
    created_at = serializers.DateTimeField()


class TargetFilter(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=200)
    kind = serializers.ChoiceField(required=False, choices=AlignmentTarget.Kind.choices)


class TargetListApi(ListAPIView):
    """Frozen alignment targets, newest first, with their files and how many runs and models use them."""

    required_scopes = (Scope.READ_DATA,)
    serializer_class = TargetOutput

    @extend_schema(parameters=[TargetFilter])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = TargetFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return target_list().filter(**filters.validated_data)


class TargetDetailApi(RetrieveAPIView):
    required_scopes = (Scope.READ_DATA,)
    serializer_class = TargetOutput

    def get_queryset(self):
        return target_list()


SOURCES = tuple(SOURCE_FIELDS.values())


class TargetFreezeInput(serializers.Serializer):
    name = serializers.CharField(max_length=200, help_text="a new name, or an existing one to freeze its next version")
    constitution_version = serializers.IntegerField(required=False, min_value=1)
    graph_snapshot = serializers.IntegerField(required=False, min_value=1)
    campaign = serializers.IntegerField(required=False, min_value=1,
                                        help_text="freeze the judged comparisons of this campaign")
    timeline_campaign = serializers.IntegerField(
        required=False, min_value=1,
        help_text="freeze this campaign's waves as a timeline (per wave: its decided pairs, the population's vector)")
    extra_prompts = serializers.ListField(
        child=serializers.CharField(allow_blank=True), required=False, max_length=1000,
        help_text="prompts to train on besides the campaign's questions (constitution targets only)",
    )
    min_pairs_per_user = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_MIN_PAIRS_PER_USER,
        help_text="leave out participants with fewer pairs that show a preference (campaign targets only; default 1)",
    )

    def validate(self, data):
        given = [source for source in SOURCES if source in data]
        if len(given) != 1:
            message = "Give exactly one of constitution_version, graph_snapshot, campaign or timeline_campaign."
            raise serializers.ValidationError({source: message for source in (given or SOURCES)})
        if "extra_prompts" in data and "constitution_version" not in data:
            raise serializers.ValidationError({"extra_prompts": "Only a constitution target takes prompts."})
        if "min_pairs_per_user" in data and "campaign" not in data:
            raise serializers.ValidationError({"min_pairs_per_user": "Only a campaign target takes min_pairs_per_user."})
        return data


class TargetFreezeApi(APIView):
    """Freezes a published constitution version, a moral-graph snapshot, a campaign's judged
    comparisons (a preference population) or its waves (a timeline) into a new target version."""

    required_scopes = (Scope.WRITE_TARGETS,)

    @extend_schema(request=TargetFreezeInput, responses={201: TargetOutput})
    def post(self, request):
        data = TargetFreezeInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        kind = next(kind for kind, source in SOURCE_FIELDS.items() if source in fields)
        target = target_freeze(kind=kind, name=fields["name"], source_id=fields[SOURCE_FIELDS[kind]],
                               extra_prompts=fields.get("extra_prompts", ()),
                               min_pairs_per_user=fields.get("min_pairs_per_user", 1), user=request.user)
        return Response(TargetOutput(target_list().get(pk=target.pk), context={"request": request}).data, status=status.HTTP_201_CREATED)


class TargetImportInput(serializers.Serializer):
    file = serializers.FileField(help_text="JSONL (optionally gzipped), CSV or Parquet, named by its extension")
    name = serializers.CharField(max_length=200, help_text="a new name, or an existing one for its next version")
    map = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                help_text="field=column for columns named otherwise, e.g. user=judge,prompt=question")
    metadata = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                     help_text="comma-separated columns to keep with each pair")
    ignore = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                   help_text="comma-separated columns to leave out")
    min_pairs_per_user = serializers.IntegerField(required=False, default=1, min_value=1,
                                                  max_value=MAX_MIN_PAIRS_PER_USER,
                                                  help_text="leave out annotators with fewer pairs")

    def validate(self, data):
        try:
            data["columns"] = Columns.parse(data.pop("map"), metadata=data.pop("metadata"), ignore=data.pop("ignore"))
        except ColumnsError as exc:
            raise serializers.ValidationError({"map": str(exc)}) from None
        return data


class PreferenceImportOutput(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    file_name = serializers.CharField()
    format = serializers.CharField()
    size_bytes = serializers.IntegerField()
    columns = serializers.DictField()
    min_pairs_per_user = serializers.IntegerField()
    status = serializers.ChoiceField(choices=PreferenceImport.Status.choices)
    report = serializers.DictField(help_text="counts, skipped rows, and each problem with file, line and field")
    target = serializers.IntegerField(source="target_id", allow_null=True, help_text="the target made")
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)


class TargetImportApi(APIView):
    """Queues the import of a preference dataset file (multipart upload) as a preference-population
    target. Every row is checked before anything is written; poll the import for the outcome."""

    required_scopes = (Scope.WRITE_TARGETS,)
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": TargetImportInput}, responses={202: PreferenceImportOutput})
    def post(self, request):
        data = TargetImportInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        upload = fields["file"]
        job = preference_import_create(name=fields["name"], file_name=upload.name, chunks=upload.chunks(),
                                       columns=fields["columns"], min_pairs_per_user=fields["min_pairs_per_user"],
                                       user=request.user)
        return Response(PreferenceImportOutput(job).data, status=status.HTTP_202_ACCEPTED)


class PreferenceImportDetailApi(RetrieveAPIView):
    """How an import went: queued, running, succeeded (with the target) or failed (with the problems)."""

    required_scopes = (Scope.WRITE_TARGETS,)
    serializer_class = PreferenceImportOutput

    def get_queryset(self):
        return PreferenceImport.objects.all()


# --- runs --------------------------------------------------------------------------------------


class HeldOutOutput(serializers.Serializer):
    accuracy = serializers.FloatField()
    pairs = serializers.IntegerField()
    low = serializers.FloatField(help_text="95% Wilson interval")
    high = serializers.FloatField()
    better_than_chance = serializers.BooleanField(help_text="the interval lies above 0.5")
    sentence = serializers.CharField()


class RunOutput(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    target = serializers.IntegerField(source="target_id")
    target_name = serializers.CharField(source="target.name")
    target_version = serializers.IntegerField(source="target.version")
    method = serializers.CharField()
    base_model = serializers.CharField()
    config = serializers.DictField(help_text="every setting of the method, defaults included")
    status = serializers.ChoiceField(choices=TrainingRun.Status.choices)
    progress = serializers.FloatField(help_text="0 to 1")
    stage = serializers.CharField()
    metrics = serializers.DictField(help_text="final metrics, once succeeded")
    error = serializers.CharField()
    attempt = serializers.IntegerField()
    device = serializers.CharField()
    model = serializers.SerializerMethodField(help_text="the published model's id, once succeeded")
    held_out = serializers.SerializerMethodField(help_text="held-out accuracy against chance, once succeeded; "
                                                           "null when the run measured none")
    tracking = serializers.SerializerMethodField(
        help_text="tracker runs (method progress): PG-Follow, PG-Predict, PG-Coevolve of the tracker and of the "
                  "untrained base model, and per step its model folder, value vector and cosines; null otherwise")
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    cancel_requested_at = serializers.DateTimeField(allow_null=True)

    @extend_schema_field(HeldOutOutput(allow_null=True))
    def get_held_out(self, run) -> dict | None:
        verdict = held_out_verdict(run.metrics, run.summary) if run.status == TrainingRun.Status.SUCCEEDED else None
        return HeldOutOutput(verdict).data if verdict else None

    def get_model(self, run) -> int | None:
        artifact = getattr(run, "artifact", None)  # reverse one-to-one: missing until published
        return artifact.pk if artifact else None

    def get_tracking(self, run) -> dict | None:
        tracking = selectors.run_tracking(run=run)
        if tracking is not None:
            tracking = {**tracking, "dims": run.summary["tracking"].get("dims"),
                        "baseline_vector": run.summary["tracking"].get("baseline_vector")}
        return tracking


class RunFilter(serializers.Serializer):
    status = serializers.ChoiceField(required=False, choices=TrainingRun.Status.choices)
    target = serializers.IntegerField(required=False, min_value=1)
    method = serializers.CharField(required=False, max_length=50)


class RunListApi(ListAPIView):
    """Training runs, newest first."""

    required_scopes = (Scope.READ_MODELS,)
    serializer_class = RunOutput

    @extend_schema(parameters=[RunFilter])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = RunFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.run_list_for_api(**{("target_id" if k == "target" else k): v for k, v in filters.validated_data.items()})


class RunDetailApi(RetrieveAPIView):
    """One run's status, progress and outcome."""

    required_scopes = (Scope.READ_MODELS,)
    serializer_class = RunOutput

    def get_queryset(self):
        return selectors.run_list_for_api()


class RunCreateInput(serializers.Serializer):
    method = serializers.CharField(max_length=50)
    base_model = serializers.CharField(max_length=500, help_text="one of the paths GET /api/v1/base-models/ lists")
    config = serializers.DictField(required=False, default=dict,
                                   help_text="the method's settings; omitted ones take defaults")


class RunCreateApi(APIView):
    """Queues a run of `method` on this target. The config is checked setting by setting: an unknown
    setting or a bad value is a 400 naming `config.<setting>`."""

    required_scopes = (Scope.WRITE_RUNS,)

    @extend_schema(request=RunCreateInput, responses={201: RunOutput})
    def post(self, request, pk: int):
        target = get_object_or_404(AlignmentTarget, pk=pk)
        data = RunCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        run = run_create(target=target, user=request.user, **data.validated_data)
        return Response(RunOutput(selectors.run_list_for_api().get(pk=run.pk)).data, status=status.HTTP_201_CREATED)


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class RunCancelApi(APIView):
    """A queued run is cancelled at once; a running one stops at its worker's next check (status
    stays `running` with `cancel_requested_at` set until then). A finished run is a 409."""

    required_scopes = (Scope.WRITE_RUNS,)

    @extend_schema(request=None, responses={200: RunOutput})
    def post(self, request, pk: int):
        run = get_object_or_404(TrainingRun, pk=pk)
        try:
            run_cancel(run=run)
        except DjangoValidationError as exc:
            raise Conflict(" ".join(exc.messages)) from None
        return Response(RunOutput(selectors.run_list_for_api().get(pk=run.pk)).data)


class RunMetricOutput(serializers.Serializer):
    step = serializers.IntegerField()
    values = serializers.DictField(child=serializers.FloatField(),
                                   help_text='e.g. {"loss": 0.69, "learning_rate": 1e-05}')


class MetricFilter(serializers.Serializer):
    name = serializers.CharField(required=False, max_length=100, help_text="only points that logged this metric")


class RunMetricListApi(ListAPIView):
    """The points of a run's training curves, in step order."""

    required_scopes = (Scope.READ_MODELS,)
    serializer_class = RunMetricOutput

    @extend_schema(parameters=[MetricFilter])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        run = get_object_or_404(TrainingRun, pk=self.kwargs["pk"])
        filters = MetricFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return selectors.run_metrics(run=run, name=filters.validated_data.get("name"))


# --- models ------------------------------------------------------------------------------------


class TargetRefOutput(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    version = serializers.IntegerField()


class ModelHubOutput(serializers.Serializer):
    repo_id = serializers.CharField(help_text="for huggingface_hub, with endpoint=<chorus>/hf")
    revision = serializers.CharField(required=False, help_text="v<n>: this model's version in its repo, never reused (detail only)")
    commit = serializers.CharField(help_text="40-hex revision that always names exactly this model")


class ModelFileOutput(serializers.Serializer):
    name = serializers.CharField()
    sha256 = serializers.CharField()
    size_bytes = serializers.IntegerField()
    url = serializers.URLField(help_text="download (Hub-compatible; Range requests supported)")


class TrackingScoreOutput(serializers.Serializer):
    key = serializers.CharField()
    label = serializers.CharField()
    tracker = serializers.FloatField(allow_null=True)
    baseline = serializers.FloatField(allow_null=True, help_text="the untrained base model's")


class ModelOutput(serializers.Serializer):
    id = serializers.IntegerField()
    uuid = serializers.UUIDField()
    name = serializers.CharField()
    method = serializers.CharField()
    base_model = serializers.CharField()
    target = TargetRefOutput()
    run = serializers.IntegerField(source="run_id")
    metrics = serializers.DictField()
    hub = serializers.SerializerMethodField()
    target_redacted_after_training = serializers.SerializerMethodField(
        help_text="a withdrawal removed rows from the target after this model's run started; models are not retrained")
    created_at = serializers.DateTimeField()
    finished_at = serializers.SerializerMethodField(help_text="when its run finished")
    size_bytes = serializers.SerializerMethodField(help_text="its files together")
    held_out = serializers.SerializerMethodField(
        help_text="held-out accuracy against chance; null for trackers and for runs that measured none")
    tracking = serializers.SerializerMethodField(
        help_text="a tracker's (method progress) PG-Follow, PG-Predict, PG-Coevolve; null for other models")

    def _headline(self, artifact) -> selectors.ModelHeadline:
        """Once per model for its four fields (plain Python on the row and its run, no query)."""
        cached = getattr(artifact, "_headline", None)
        if cached is None:
            cached = artifact._headline = selectors.model_headline(artifact=artifact)
        return cached

    @extend_schema_field(serializers.DateTimeField())
    def get_finished_at(self, artifact) -> str:
        return serializers.DateTimeField().to_representation(self._headline(artifact).finished_at)

    def get_size_bytes(self, artifact) -> int:
        return self._headline(artifact).size_bytes

    @extend_schema_field(HeldOutOutput(allow_null=True))
    def get_held_out(self, artifact) -> dict | None:
        verdict = self._headline(artifact).held_out
        return HeldOutOutput(verdict).data if verdict else None

    @extend_schema_field(TrackingScoreOutput(many=True, allow_null=True))
    def get_tracking(self, artifact) -> list[dict] | None:
        return self._headline(artifact).tracking

    @extend_schema_field(ModelHubOutput)
    def get_hub(self, artifact) -> dict:
        return {"repo_id": hub_repo_id(artifact, slugs=self.context["hub_slugs"]), "commit": artifact_commit(artifact)}

    def get_target_redacted_after_training(self, artifact) -> bool:
        return bool(selectors.model_redactions_after_training(artifact=artifact))


class ModelDetailOutput(ModelOutput):
    model_card = serializers.CharField(help_text="README.md, Markdown")
    files = serializers.SerializerMethodField()

    @extend_schema_field(ModelHubOutput)
    def get_hub(self, artifact) -> dict:
        found = artifact_revision(artifact)
        return {"repo_id": hub_repo_id(artifact, slugs=self.context["hub_slugs"]), "revision": found.tag,
                "commit": found.commit}

    @extend_schema_field(ModelFileOutput(many=True))
    def get_files(self, artifact) -> list[dict]:
        namespace, name = hub_repo_id(artifact, slugs=self.context["hub_slugs"]).split("/")
        commit = artifact_commit(artifact)
        request = self.context["request"]
        return [{**f, "url": request.build_absolute_uri(reverse("hub:resolve", kwargs={
            "namespace": namespace, "name": name, "revision": commit, "filename": f["name"]}))}
                for f in sorted(artifact.files, key=lambda f: f["name"])]


class ModelFilter(serializers.Serializer):
    target = serializers.IntegerField(required=False, min_value=1)
    method = serializers.CharField(required=False, max_length=50)


class _ModelApi:
    required_scopes = (Scope.READ_MODELS,)

    def get_serializer_context(self):
        return {**super().get_serializer_context(), "hub_slugs": target_slugs()}


class ModelListApi(_ModelApi, ListAPIView):
    """Trained models, newest first, each with its Hugging Face Hub repo id and commit."""

    serializer_class = ModelOutput

    @extend_schema(parameters=[ModelFilter])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = ModelFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        lookups = {("target_id" if k == "target" else k): v for k, v in filters.validated_data.items()}
        return selectors.model_list(**lookups)


class ModelDetailApi(_ModelApi, RetrieveAPIView):
    """One model: metrics, model card, files with their sha256 and download URLs."""

    serializer_class = ModelDetailOutput

    def get_queryset(self):
        return selectors.model_detail_queryset()
