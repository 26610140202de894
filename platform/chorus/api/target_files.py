"""A frozen target's dataset files, one JSONL file at a time, and the base models runs can start from.
With a bucket (CHORUS_STORAGE_URL=s3://...), a file answers 302 to a presigned URL of its object.

Files need read:data, like the target they belong to. Each file's `signed_url` (in the target's
detail and list) works without an Authorization header for an hour, for clients that cannot send
one (`datasets.load_dataset("json", data_files=...)`, a browser), like the comparison datasets' links.
"""
from __future__ import annotations

from django.http import FileResponse, Http404, HttpResponseRedirect
from django.urls import reverse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from chorus.api.signed_links import SignedLinkAuthentication, link_sign
from training import object_store, selectors
from training.base_models import base_models_available
from training.storage import target_dir

LINK_SALT = "chorus.api.target-file-link"


def target_file_urls(request, target_id: int, name: str) -> dict[str, str | None]:
    """The file's API URL, and a signed one for the token that asked (None without a token)."""
    url = request.build_absolute_uri(reverse("api:target-file", kwargs={"pk": target_id, "name": name}))
    token = getattr(request, "auth", None)
    if token is None or not hasattr(token, "pk"):
        return {"url": url, "signed_url": None}
    signature = link_sign({"token": token.pk, "target": target_id, "name": name}, salt=LINK_SALT)
    return {"url": url, "signed_url": f"{url}?signature={signature}"}


class SignedFileAuthentication(SignedLinkAuthentication):
    """Accepts `?signature=` made for this very file by `target_file_urls`."""

    salt = LINK_SALT

    def refusal(self, payload: dict, request) -> str | None:
        kwargs = request.parser_context["kwargs"]
        return None if (payload["target"], payload["name"]) == (kwargs["pk"], kwargs["name"]) else "This link is for another file."


class TargetFileApi(APIView):
    """One dataset file of a frozen target (JSONL), as frozen, or as changed by withdrawals since."""

    required_scopes = (Scope.READ_DATA,)

    def get_authenticators(self):
        return [SignedFileAuthentication(), *super().get_authenticators()]

    @extend_schema(responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request, pk: int, name: str):
        target = selectors.target_get(target_id=pk)
        if target is None or name not in {f.name for f in target.files.all()}:
            raise Http404("No such file.")
        if object_store.enabled():  # the bucket serves it, through a presigned URL
            return HttpResponseRedirect(object_store.presigned_url(
                object_store.name_of(target_dir(target.uuid) / name), filename=name))
        return FileResponse(open(target_dir(target.uuid) / name, "rb"), as_attachment=True, filename=name,
                            content_type="application/x-ndjson")


class BaseModelOutput(serializers.Serializer):
    path = serializers.CharField(help_text="what a run's base_model takes")
    label = serializers.CharField()
    source = serializers.ChoiceField(choices=["bundled", "prepared", "trained"])


class BaseModelListApi(APIView):
    """The model folders this server has for runs to start from; a run's base_model must be one."""

    required_scopes = (Scope.WRITE_RUNS,)

    @extend_schema(responses=BaseModelOutput(many=True))
    def get(self, request):
        return Response(BaseModelOutput(base_models_available(), many=True).data)
