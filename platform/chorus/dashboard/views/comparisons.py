"""Staff pages for comparisons: the Bradley-Terry leaderboard and the JSONL exports."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from chorus.dashboard.access import staff_member_required
from elicitation.domain import comparisons_exports as exports
from elicitation.domain.comparisons import Battle, leaderboard, model_label
from elicitation.models import DIMENSIONS, Campaign
from elicitation.selectors.comparisons import comparison_battles, comparisons_decided


@staff_member_required
@require_GET
def leaderboard_page(request: HttpRequest, campaign_id: int) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    dimension = request.GET.get("dimension", "")
    battles = [Battle(a, b, choice) for a, b, choice in comparison_battles(campaign=campaign, dimension=dimension)]
    ratings = leaderboard(battles)
    low = min((r.lower for r in ratings), default=0.0)
    high = max((r.upper for r in ratings), default=1.0)
    span = max(high - low, 1.0)

    def x(score: float) -> float:  # position on a 0..500 axis for the interval plot
        return 20 + 460 * (score - low) / span

    plot = [{"rating": r, "label": model_label(r.model), "x": x(r.score), "lo": x(r.lower), "hi": x(r.upper), "y": 30 + 34 * i}
            for i, r in enumerate(ratings)]
    return render(request, "dashboard/leaderboard.html", {
        "campaign": campaign, "ratings": ratings, "plot": plot, "plot_height": 40 + 34 * len(ratings),
        "battles": len(battles), "dimensions": DIMENSIONS, "dimension": dimension, "formats": exports.FORMATS,
    })


@staff_member_required
@require_GET
def export_jsonl(request: HttpRequest, campaign_id: int, fmt: str) -> HttpResponse:
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if fmt not in exports.ROWS:
        raise Http404("Unknown export format.")
    rows = exports.ROWS[fmt](comparisons_decided(campaign=campaign))
    response = StreamingHttpResponse(exports.jsonl(rows), content_type="application/jsonl")
    response["Content-Disposition"] = f'attachment; filename="{campaign.slug}-{fmt}.jsonl"'
    return response
