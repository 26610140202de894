"""Staff page for a campaign over its waves: the value survey's vector per wave, the moral graph's
leading values per context in each wave with what changed since the wave before, and the timeline
targets frozen from these waves (each leading to its trend charts)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from chorus.dashboard.access import staff_member_required
from elicitation.domain.surveys import DIMENSION_LABELS, DIMENSIONS
from elicitation.models import Campaign
from elicitation.selectors.surveys import graph_leaders_per_wave, survey_vectors
from training.selectors import campaign_timelines


@staff_member_required
@require_GET
def waves_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    vectors = survey_vectors(campaign=campaign)
    rows = [{"name": d, "label": DIMENSION_LABELS[d],
             "cells": [(w.vector.mean[i], w.vector.low[i], w.vector.high[i], w.vector.counts[i]) for w in vectors]}
            for i, d in enumerate(DIMENSIONS)]
    return render(request, "dashboard/campaign_waves.html", {
        "campaign": campaign, "vectors": vectors, "rows": rows,
        "graph_waves": graph_leaders_per_wave(campaign=campaign),
        "timelines": campaign_timelines(campaign_id=campaign.pk),
    })
