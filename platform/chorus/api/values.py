"""Canonical values cards and moral graphs (MAI's MoralGraphSummary JSON)."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from elicitation.models import CanonicalCard, Campaign
from elicitation.services import graphs


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
        from django.db.models import Count

        filters = ValuesFilter(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        qs = CanonicalCard.objects.annotate(card_count=Count("cards")).order_by("pk")
        if "campaign" in filters.validated_data:
            qs = qs.filter(campaign_id=filters.validated_data["campaign"])
        if "question" in filters.validated_data:
            qs = qs.filter(question_id=filters.validated_data["question"])
        return qs


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
        summary = result.graph.to_mai_json()
        summary.update(asOf=result.as_of.isoformat(), voteCount=len(result.votes))
        return Response(summary)


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
        return campaign.snapshots.order_by("-as_of", "-pk")


