"""/api/v1/targets/<id>/trends/: a timeline target's value trends, the series of its staff trend page.

It carries the population's value vector per wave (read:data, as the target's own files) and each
tracker run's vector per step (read:models, as the runs), so it needs both scopes.
"""
from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from chorus.accounts.models import Scope
from training import selectors
from training.models import AlignmentTarget
from training.selectors import TimelineTrends


class TimelineTrendsApi(APIView):
    """For a timeline target, per wave: the population's value vector (ProgressGym's 19 dimensions,
    each in [0, 1], with 95 % bootstrap intervals; null when nobody answered the value survey in that
    wave); per finished tracker run (method progress): its model's vector after each step with its 95 %
interval (bootstrap over survey items; null for runs that did not record one) and the gap,
    population minus tracker, per dimension (null where either is missing). Runs still training are
    listed under `unfinished`."""

    required_scopes = (Scope.READ_DATA, Scope.READ_MODELS)

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request, pk: int):
        target = selectors.target_get(target_id=pk)
        if target is None or target.kind != AlignmentTarget.Kind.TIMELINE:
            raise NotFound("No such timeline target.")
        return Response(trends_json(selectors.timeline_trends(target=target)))


def trends_json(trends: TimelineTrends) -> dict:
    target = trends.target
    return {
        "target": target.pk, "target_name": target.name, "target_version": target.version,
        "campaign": target.campaign_id, "problem": trends.problem or None,
        "dimensions": [{"name": d, "label": label} for d, label in zip(trends.dims, trends.labels)],
        "waves": [{"step": w.step, "wave": w.wave, "label": w.label, "participants": w.participants,
                   "population": None if w.mean is None else {"mean": w.mean, "low": w.low, "high": w.high}}
                  for w in trends.waves],
        "trackers": [{"run": t.run_id, "tracker": t.tracker,
                      "steps": [{"step": w.step, "vector": v, "low": low, "high": high, "gap": g}
                                for w, v, low, high, g in zip(trends.waves, t.vectors, t.lows, t.highs, t.gaps)]}
                     for t in trends.trackers],
        "unfinished": [{"run": run.pk, "tracker": run.config.get("tracker", ""), "status": run.status}
                       for run in trends.unfinished],
    }
