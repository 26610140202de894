from csp.constants import SELF, UNSAFE_INLINE
from csp.decorators import csp_update
from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from chorus.api.campaigns import CampaignDetailApi, CampaignListApi, SurveyVectorsApi
from chorus.api.datasets import ComparisonDatasetApi, DatasetLinkApi
from chorus.api.moral_graph import MoralGraphApi, SnapshotListApi, ValuesCardListApi
from chorus.api.target_files import BaseModelListApi, TargetFileApi
from chorus.api.training import (
    ModelDetailApi,
    ModelListApi,
    PreferenceImportDetailApi,
    RunCancelApi,
    RunCreateApi,
    RunDetailApi,
    RunListApi,
    RunMetricListApi,
    TargetDetailApi,
    TargetFreezeApi,
    TargetImportApi,
    TargetListApi,
)
from chorus.api.trends import TimelineTrendsApi

app_name = "api"

# The schema and its docs page are public on purpose; every other endpoint needs a scope.
PUBLIC_VIEWS = (SpectacularAPIView, SpectacularSwaggerSplitView)

# The docs page under the Content-Security-Policy: the split view serves Swagger UI's start-up script
# as a file (?script), and this one page, which shows no participant text, may keep the small
# inline <style> block of drf-spectacular's template.
docs_page = csp_update({"style-src": [SELF, UNSAFE_INLINE]})(
    SpectacularSwaggerSplitView.as_view(url_name="api:schema", authentication_classes=[], permission_classes=[])
)

urlpatterns = [
    path("v1/schema/", SpectacularAPIView.as_view(authentication_classes=[], permission_classes=[]), name="schema"),
    path("v1/docs/", docs_page, name="docs"),
    path("v1/campaigns/", CampaignListApi.as_view(), name="campaign-list"),
    path("v1/campaigns/<int:pk>/", CampaignDetailApi.as_view(), name="campaign-detail"),
    path("v1/campaigns/<int:pk>/moral-graph/", MoralGraphApi.as_view(), name="moral-graph"),
    path("v1/campaigns/<int:pk>/value-vectors/", SurveyVectorsApi.as_view(), name="campaign-value-vectors"),
    path("v1/campaigns/<int:pk>/snapshots/", SnapshotListApi.as_view(), name="snapshot-list"),
    path("v1/values/", ValuesCardListApi.as_view(), name="value-list"),
    path("v1/datasets/comparisons/", ComparisonDatasetApi.as_view(), name="dataset-comparisons"),
    path("v1/datasets/comparisons/link/", DatasetLinkApi.as_view(), name="dataset-comparisons-link"),
    path("v1/targets/", TargetListApi.as_view(), name="target-list"),
    path("v1/targets/freeze/", TargetFreezeApi.as_view(), name="target-freeze"),
    path("v1/targets/import/", TargetImportApi.as_view(), name="target-import"),
    path("v1/targets/imports/<int:pk>/", PreferenceImportDetailApi.as_view(), name="target-import-detail"),
    path("v1/targets/<int:pk>/", TargetDetailApi.as_view(), name="target-detail"),
    path("v1/targets/<int:pk>/files/<str:name>", TargetFileApi.as_view(), name="target-file"),
    path("v1/targets/<int:pk>/runs/", RunCreateApi.as_view(), name="run-create"),
    path("v1/targets/<int:pk>/trends/", TimelineTrendsApi.as_view(), name="target-trends"),
    path("v1/base-models/", BaseModelListApi.as_view(), name="base-model-list"),
    path("v1/runs/", RunListApi.as_view(), name="run-list"),
    path("v1/runs/<int:pk>/", RunDetailApi.as_view(), name="run-detail"),
    path("v1/runs/<int:pk>/cancel/", RunCancelApi.as_view(), name="run-cancel"),
    path("v1/runs/<int:pk>/metrics/", RunMetricListApi.as_view(), name="run-metrics"),
    path("v1/models/", ModelListApi.as_view(), name="model-list"),
    path("v1/models/<int:pk>/", ModelDetailApi.as_view(), name="model-detail"),
]
