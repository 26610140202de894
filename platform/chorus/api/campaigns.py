"""Read-only campaign endpoints."""
from __future__ import annotations

from rest_framework import serializers
from rest_framework.generics import ListAPIView, RetrieveAPIView

from chorus.accounts.models import Scope
from elicitation.selectors.campaigns import campaign_list


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
