"""Read-only campaign endpoints."""
from __future__ import annotations

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiTypes, extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from elicitation.models import Campaign
from elicitation.selectors.campaigns import campaign_list
from elicitation.selectors.surveys import survey_vectors_json


class CampaignOutput(serializers.Serializer):
    id = serializers.IntegerField()
    slug = serializers.SlugField()
    title = serializers.CharField()
    description = serializers.CharField()
    status = serializers.CharField()
    activities = serializers.ListField(child=serializers.CharField())
    questions = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()

    def get_questions(self, campaign) -> list[str]:
        return [q.text for q in campaign.questions.all()]


class CampaignListApi(ListAPIView):
    required_scopes = (Scope.READ_DATA,)
    serializer_class = CampaignOutput

    def get_queryset(self):
        return campaign_list().order_by("pk")


class CampaignDetailApi(RetrieveAPIView):
    required_scopes = (Scope.READ_DATA,)
    serializer_class = CampaignOutput

    def get_queryset(self):
        return campaign_list()


class SurveyVectorsApi(APIView):
    """The campaign's value vector in each wave, from its value survey's answers: ProgressGym's 19
    dimensions, each in [0, 1], with 95 % bootstrap intervals over participants (null where a
    dimension had no answers in that wave)."""

    required_scopes = (Scope.READ_DATA,)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        campaign = get_object_or_404(Campaign, pk=pk)
        return Response(survey_vectors_json(campaign=campaign))
