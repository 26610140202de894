"""Staff page of a timeline target's trends: for each of the 19 value dimensions, the population's
value per wave with its interval, each tracker run's value per step, and the gap between them; all
19 as small multiples, and one dimension (?dimension=<name>; at first the one answered in the most
waves) larger with its numbers in a table.
The data comes from training.selectors.timeline_trends, the SVG geometry from chorus.dashboard.charts."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from chorus.dashboard.access import staff_member_required
from chorus.dashboard.charts import COLOURS, LARGE, SMALL, Population, Series, Size, TrendChart, trend_chart
from training import selectors
from training.models import AlignmentTarget
from training.selectors import TimelineTrends


@staff_member_required
@require_GET
def targets_trends(request: HttpRequest, target_id: int) -> HttpResponse:
    target = selectors.target_get(target_id=target_id)
    if target is None or target.kind != AlignmentTarget.Kind.TIMELINE:
        raise Http404("No such timeline target.")
    trends = selectors.timeline_trends(target=target)
    context = {"target": target, "trends": trends, "legend": [(t, i % COLOURS) for i, t in enumerate(trends.trackers)],
               "no_answers": [w for w in trends.waves if w.mean is None],
               "small": [{"name": d, "label": trends.labels[i], "chart": _chart(trends, i, SMALL)}
                         for i, d in enumerate(trends.dims)]}
    name = request.GET.get("dimension") or _best_covered(trends)
    if name not in trends.dims:
        context["error"] = f"dimension: there is no dimension “{name}”; choose one of the charts below."
        return render(request, "dashboard/targets_trends.html", context, status=400)
    i = trends.dims.index(name)
    context.update(chosen=name, chosen_label=trends.labels[i], large=_chart(trends, i, LARGE), table=_table(trends, i))
    return render(request, "dashboard/targets_trends.html", context)


def _chart(trends: TimelineTrends, i: int, size: Size) -> TrendChart:
    """Dimension i of every series, as the chart module takes them."""
    return trend_chart(
        steps=[f"W{w.wave}" for w in trends.waves],
        population=[None if w.mean is None else Population(w.mean[i], _at(w.low, i), _at(w.high, i))
                    for w in trends.waves],
        trackers=[Series(t, [_at(v, i) for v in t.vectors], [_at(g, i) for g in t.gaps],
                         [_at(v, i) for v in t.lows], [_at(v, i) for v in t.highs]) for t in trends.trackers],
        size=size)


def _table(trends: TimelineTrends, i: int) -> list[dict]:
    """Per wave: the population's value and interval, and each tracker's value, interval and gap."""
    return [{"wave": w, "mean": _at(w.mean, i), "low": _at(w.low, i), "high": _at(w.high, i),
             "trackers": [(t, _at(t.vectors[k], i), _at(t.lows[k], i), _at(t.highs[k], i), _at(t.gaps[k], i))
                          for t in trends.trackers]}
            for k, w in enumerate(trends.waves)]


def _best_covered(trends: TimelineTrends) -> str:
    """The dimension with a population value in the most waves (the first such), to show at first."""
    return max(trends.dims, key=lambda d: sum(w.mean is not None and w.mean[trends.dims.index(d)] is not None
                                              for w in trends.waves))


def _at(vector: tuple | None, i: int) -> float | None:
    return None if vector is None else vector[i]
