"""The moral graph over the API: its nodes (canonical values cards), the graph as MAI's MoralGraphSummary
JSON as of any moment, and its frozen snapshots."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from elicitation.models import Campaign
from elicitation.selectors import moral_graph as graphs
from elicitation.selectors.values import canonical_list


class ValuesCardOutput(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField(source="campaign_id")
    question = serializers.IntegerField(source="question_id", allow_null=True)
    title = serializers.CharField()
    description = serializers.CharField()
    policies = serializers.ListField(child=serializers.CharField())
    external_id = serializers.CharField()
    cards = serializers.IntegerField(source="card_count", help_text="participants' cards merged into this value")


class ValuesFilter(serializers.Serializer):
    campaign = serializers.IntegerField(required=False, min_value=1)
    question = serializers.IntegerField(required=False, min_value=1)


class ValuesCardListApi(ListAPIView):
    """Deduplicated values cards (the nodes of the moral graph)."""

    required_scopes = (Scope.READ_DATA,)
    serializer_class = ValuesCardOutput

    @extend_schema(parameters=[ValuesFilter])
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = ValuesFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return canonical_list(**filters.validated_data)


class GraphQuery(serializers.Serializer):
    as_of = serializers.DateTimeField(required=False, help_text="only votes cast before this moment")


class MoralGraphApi(APIView):
    """The campaign's moral graph as MAI's MoralGraphSummary JSON, with PageRank per value."""

    required_scopes = (Scope.READ_DATA,)

    @extend_schema(parameters=[GraphQuery], responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        query = GraphQuery(data=request.query_params)
        query.is_valid(raise_exception=True)
        result = graphs.graph_compute(campaign=campaign, as_of=query.validated_data.get("as_of"))
        return Response(graphs.graph_summary(result=result, campaign=campaign))


class SnapshotOutput(serializers.Serializer):
    id = serializers.IntegerField()
    campaign = serializers.IntegerField(source="campaign_id")
    wave = serializers.IntegerField(source="wave_id", allow_null=True)
    as_of = serializers.DateTimeField()
    created_at = serializers.DateTimeField()
    vote_count = serializers.IntegerField()
    summary = serializers.JSONField()


class SnapshotListApi(ListAPIView):
    """Frozen graphs of a campaign (per wave, or as of a moment), newest first."""

    required_scopes = (Scope.READ_DATA,)
    serializer_class = SnapshotOutput

    def get_queryset(self):
        campaign = get_object_or_404(Campaign, pk=self.kwargs["pk"])
        return graphs.graph_snapshots_of(campaign=campaign)


