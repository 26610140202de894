"""Hugging Face Hub-compatible routes, mounted at /hf/ (the `endpoint` a client is given)."""
from django.urls import path

from chorus.api.hub import (
    HubModelInfoApi,
    HubModelInfoRevisionApi,
    HubRefsApi,
    HubResolveApi,
    HubTreeApi,
    HubTreePathApi,
)

app_name = "hub"

REPO = "<str:namespace>/<str:name>"

urlpatterns = [
    path(f"api/models/{REPO}", HubModelInfoApi.as_view(), name="model-info"),
    path(f"api/models/{REPO}/revision/<str:revision>", HubModelInfoRevisionApi.as_view(), name="model-info-revision"),
    path(f"api/models/{REPO}/tree/<str:revision>", HubTreeApi.as_view(), name="tree"),
    path(f"api/models/{REPO}/tree/<str:revision>/<path:path>", HubTreePathApi.as_view(), name="tree-path"),
    path(f"api/models/{REPO}/refs", HubRefsApi.as_view(), name="refs"),
    path(f"{REPO}/resolve/<str:revision>/<path:filename>", HubResolveApi.as_view(), name="resolve"),
]
