"""Reads of the moral graph: a campaign's votes and values as columns, the graph as of any moment,
the wisest values per context, and agreement split by a participant attribute."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from django.core.exceptions import ValidationError
from django.db.models import F, Func, QuerySet
from django.utils import timezone

from chorus.accounts.models import Participant
from elicitation.domain import moral_graph as mg
from elicitation.models import Campaign, CanonicalCard, Context, EdgeVote, GraphSnapshot, Wave

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class CampaignGraph:
    graph: mg.MoralGraph
    votes: mg.Votes
    as_of: datetime
    # Voters' ids in `votes.user_id` mapped back, so splits can look up their attributes.
    participant_of_user: dict[int, int]


def campaign_votes(*, campaign: Campaign) -> tuple[mg.Votes, dict[int, int]]:
    """All of the campaign's votes as columns, in the order they were cast."""
    rows = EdgeVote.objects.filter(campaign=campaign).order_by("created_at", "pk").values_list(
        "participant_id", "external_user_id", "from_card_id", "to_card_id", "context_id", "relationship", "created_at"
    )
    user_ids, participant_of_user, columns = {}, {}, ([], [], [], [], [], [])
    for participant_id, external, from_id, to_id, context_id, relationship, created_at in rows.iterator(chunk_size=10_000):
        key = ("p", participant_id) if participant_id else ("x", external)
        user = user_ids.setdefault(key, len(user_ids))
        if participant_id:
            participant_of_user[user] = participant_id
        for column, value in zip(columns, (user, from_id, to_id, context_id, relationship, created_at)):
            column.append(value)
    codes = {name: i for i, name in enumerate(mg.RELATIONSHIPS)}
    votes = mg.Votes(
        user_id=np.asarray(columns[0], dtype=np.int64),
        from_id=np.asarray(columns[1], dtype=np.int64),
        to_id=np.asarray(columns[2], dtype=np.int64),
        context_id=np.asarray(columns[3], dtype=np.int64),
        relationship=np.asarray([codes[r] for r in columns[4]], dtype=np.int8),
        # UTC microseconds, as moral_graph expects.
        created_at=np.asarray([(t - EPOCH) // MICROSECOND for t in columns[5]], dtype=np.int64).astype("datetime64[us]"),
    )
    return votes, participant_of_user


def campaign_values(*, campaign: Campaign) -> list[dict]:
    return [
        {"id": c.pk, "title": c.title, "description": c.description, "policies": c.policies,
         "instructionsDetailed": c.instructions_detailed, "externalId": c.external_id or None}
        for c in CanonicalCard.objects.filter(campaign=campaign).order_by("pk")
    ]


def graph_compute(*, campaign: Campaign, as_of: datetime | None = None) -> CampaignGraph:
    """The moral graph from the votes cast strictly before `as_of` (default: now)."""
    as_of = _in_utc(as_of) if as_of else timezone.now()
    votes, participant_of_user = campaign_votes(campaign=campaign)
    votes = mg.votes_as_of(votes, as_of)
    graph = mg.aggregate(votes, campaign_values(campaign=campaign))
    return CampaignGraph(graph=graph, votes=votes, as_of=as_of, participant_of_user=participant_of_user)


def graph_summary(*, result: CampaignGraph, campaign: Campaign) -> dict[str, Any]:
    """The one JSON shape of a moral graph (pages, the API, snapshots, targets): MAI's MoralGraphSummary
    (values, edges), plus `asOf`, `voteCount` and every context's text by id."""
    summary = result.graph.to_mai_json()
    summary["asOf"] = result.as_of.isoformat()
    summary["voteCount"] = len(result.votes)
    summary["contexts"] = {str(pk): text for pk, text in Context.objects.filter(campaign=campaign).values_list("pk", "text")}
    return summary


def wisest_values_per_context(*, result: CampaignGraph, campaign: Campaign) -> list[dict]:
    """For each context: the values that no kept edge in that context leads away from, by PageRank."""
    rank = {v.id: v.page_rank for v in result.graph.values}
    titles = dict(CanonicalCard.objects.filter(campaign=campaign).values_list("pk", "title"))
    out = []
    for context in Context.objects.filter(campaign=campaign):
        edges = [e for e in result.graph.edges if context.pk in e.contexts]
        members = {e.source_value_id for e in edges} | {e.wiser_value_id for e in edges}
        superseded = {e.source_value_id for e in edges}
        wisest = sorted(members - superseded, key=lambda v: -rank.get(v, 0.0))
        out.append({"context": context.text, "context_id": context.pk,
                    "values": [{"id": v, "title": titles.get(v, "?"), "pageRank": rank.get(v, 0.0)} for v in wisest]})
    return out


def participant_attribute_names(*, campaign: Campaign) -> list[str]:
    """The attributes the campaign's participants described themselves by (e.g. "age band"), sorted."""
    keys = (Participant.objects.filter(campaign=campaign).exclude(attributes={})
            .annotate(key=Func(F("attributes"), function="jsonb_object_keys"))
            .values_list("key", flat=True).distinct())
    return sorted(keys)


def votes_per_context(*, result: CampaignGraph) -> dict[str, int]:
    """How many of the graph's votes were cast in each context, by context id."""
    ids, counts = np.unique(result.votes.context_id, return_counts=True)
    return {str(int(i)): int(n) for i, n in zip(ids, counts)}


def edge_agreement_by(*, result: CampaignGraph, attribute: str) -> dict[tuple[int, int], dict[str, mg.Tally]]:
    """Each kept edge's tallies per value of a participant attribute (e.g. "age band")."""
    attributes = dict(
        Participant.objects.filter(pk__in=result.participant_of_user.values()).values_list("pk", "attributes")
    )
    group_of = {}
    for user, participant_id in result.participant_of_user.items():
        value = (attributes.get(participant_id) or {}).get(attribute)
        if value not in (None, ""):
            group_of[user] = str(value)
    return mg.split_by_group(result.votes, result.graph, group_of)


def upgrades_answered(*, participant) -> int:
    return EdgeVote.objects.filter(participant=participant).count()


def upgrades_answered_ids(*, participant) -> list[int]:
    """The upgrade stories the participant has answered."""
    return list(EdgeVote.objects.filter(participant=participant).values_list("story_id", flat=True))


def graph_snapshots_recent(*, limit: int = 50) -> QuerySet:
    return GraphSnapshot.objects.select_related("campaign", "wave").defer("summary").order_by("-created_at")[:limit]


def graph_snapshot_source(*, snapshot_id: int) -> dict[str, Any]:
    snapshot = GraphSnapshot.objects.select_related("campaign", "wave").get(pk=snapshot_id)
    summary = snapshot.summary or {}
    wave = f", wave {snapshot.wave.number}" if snapshot.wave else ""
    return {
        "label": f"Moral graph of “{snapshot.campaign.title}”{wave} as of {snapshot.as_of:%Y-%m-%d %H:%M} UTC",
        "values": summary.get("values", []),
        "edges": summary.get("edges", []),
        "contexts": summary.get("contexts", {}),
        "vote_count": snapshot.vote_count,
        "as_of": snapshot.as_of.isoformat(),
    }


def campaigns_with_values() -> QuerySet[Campaign]:
    """Campaigns whose moral graph has nodes (something to draft principles from)."""
    return Campaign.objects.filter(canonical_cards__isnull=False).distinct()


def graph_page_parts(*, campaign: Campaign) -> dict[str, Any]:
    """What the graph page lists beside the graph: contexts, waves and the latest snapshots."""
    return {"contexts": Context.objects.filter(campaign=campaign), "waves": Wave.objects.filter(campaign=campaign),
            "snapshots": GraphSnapshot.objects.filter(campaign=campaign).select_related("wave").defer("summary")[:20]}


def graph_snapshots_of(*, campaign: Campaign) -> QuerySet[GraphSnapshot]:
    return GraphSnapshot.objects.filter(campaign=campaign).order_by("-as_of", "-pk")


def _in_utc(moment: datetime) -> datetime:
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):  # e.g. 9999-12-31T23:59:59-14:00 is past the last representable moment
        raise ValidationError({"as_of": "Give a moment between the years 1 and 9999, in UTC."}) from None
