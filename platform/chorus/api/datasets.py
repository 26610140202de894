"""Comparison datasets as streamed JSONL, filterable by campaign, wave and date.

Clients that cannot send a header (e.g. `datasets.load_dataset("json", data_files=URL)`) ask for
a signed link, valid for an hour, that carries the same filters.
"""
from __future__ import annotations

from urllib.parse import urlencode

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import exceptions, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from chorus.api.signed_links import LINK_MAX_AGE, SignedLinkAuthentication, link_sign
from elicitation.domain import comparisons_exports as exports
from elicitation.models import Campaign
from elicitation.selectors.campaigns import wave_by_number, wave_window
from elicitation.selectors.comparisons import comparisons_decided

LINK_SALT = "chorus.api.dataset-link"


class DatasetQuery(serializers.Serializer):
    campaign = serializers.IntegerField(min_value=1)
    format = serializers.ChoiceField(choices=exports.FORMATS, default="trl")
    wave = serializers.IntegerField(required=False, min_value=1, help_text="wave number within the campaign")
    since = serializers.DateTimeField(required=False)
    until = serializers.DateTimeField(required=False)

    def validate(self, data):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise serializers.ValidationError({"until": "until must be after since."})
        return data


class DatasetLinkAuthentication(SignedLinkAuthentication):
    """Accepts `?signature=` made by DatasetLinkApi, with the filters it was made for."""

    salt = LINK_SALT

    def refusal(self, payload: dict, request) -> str | None:
        query = {k: v for k, v in request.query_params.items() if k != "signature"}
        return None if payload["query"] == query else "This link's filters were changed; ask for a new one."


def _rows(query: dict):
    campaign = get_object_or_404(Campaign, pk=query["campaign"])
    since, until = query.get("since"), query.get("until")
    if "wave" in query:
        wave = wave_by_number(campaign=campaign, number=query["wave"])
        if wave is None:
            raise exceptions.ValidationError({"wave": f"Campaign {campaign.pk} has no wave {query['wave']}."})
        starts, ends = wave_window(wave=wave)
        since = max(filter(None, [since, starts]))
        until = min(filter(None, [until, ends]), default=None)
    comparisons = comparisons_decided(campaign=campaign, since=since, until=until)
    return exports.ROWS[query["format"]](comparisons)


class ComparisonDatasetApi(APIView):
    """Judged comparisons as JSONL (one record a line), streamed with flat memory."""

    required_scopes = (Scope.READ_DATA,)

    def get_authenticators(self):
        return [DatasetLinkAuthentication(), *super().get_authenticators()]

    @extend_schema(parameters=[DatasetQuery], responses={(200, "application/x-ndjson"): OpenApiTypes.STR})
    def get(self, request):
        query = DatasetQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        rows = _rows(query.validated_data)
        response = StreamingHttpResponse(exports.jsonl(rows), content_type="application/x-ndjson")
        response["Content-Disposition"] = f'inline; filename="comparisons-{query.validated_data["format"]}.jsonl"'
        return response


class DatasetLinkOutput(serializers.Serializer):
    url = serializers.URLField()
    expires_in = serializers.IntegerField(help_text="seconds")


class DatasetLinkApi(APIView):
    """A signed URL for the same dataset, usable without an Authorization header for an hour."""

    required_scopes = (Scope.READ_DATA,)

    @extend_schema(parameters=[DatasetQuery], responses=DatasetLinkOutput)
    def get(self, request):
        query = DatasetQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        get_object_or_404(Campaign, pk=query.validated_data["campaign"])
        params = {k: v for k, v in request.query_params.items() if k in DatasetQuery().fields}
        signature = link_sign({"token": request.auth.pk, "query": params}, salt=LINK_SALT)
        url = request.build_absolute_uri(reverse("api:dataset-comparisons")) + "?" + urlencode(
            {**params, "signature": signature})
        return Response({"url": url, "expires_in": LINK_MAX_AGE})
