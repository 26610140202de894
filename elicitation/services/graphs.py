"""The campaign's moral graph: computed from its votes as of any moment, and frozen as snapshots."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from django.core.exceptions import ValidationError
from django.utils import timezone

from .. import moral_graph as mg
from ..models import Campaign, CanonicalCard, Context, EdgeVote, GraphSnapshot, Wave

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
    as_of = as_of or timezone.now()
    votes, participant_of_user = campaign_votes(campaign=campaign)
    votes = mg.votes_as_of(votes, as_of)
    graph = mg.aggregate(votes, campaign_values(campaign=campaign))
    return CampaignGraph(graph=graph, votes=votes, as_of=as_of, participant_of_user=participant_of_user)


def wave_end(*, wave: Wave) -> datetime:
    """A wave runs until the next one starts (or until now)."""
    following = Wave.objects.filter(campaign_id=wave.campaign_id, starts_at__gt=wave.starts_at).order_by("starts_at")
    nxt = following.first()
    return nxt.starts_at if nxt else timezone.now()


def graph_snapshot_create(*, campaign: Campaign, wave: Wave | None = None, as_of: datetime | None = None) -> GraphSnapshot:
    """Freezes the graph as MAI JSON. For a wave, as of the wave's end."""
    if wave is not None and wave.campaign_id != campaign.pk:
        raise ValidationError({"wave": "This wave belongs to another campaign."})
    if as_of is None:
        as_of = wave_end(wave=wave) if wave else timezone.now()
    result = graph_compute(campaign=campaign, as_of=as_of)
    summary = result.graph.to_mai_json()
    summary["contexts"] = {c.pk: c.text for c in Context.objects.filter(campaign=campaign)}
    return GraphSnapshot.objects.create(
        campaign=campaign, wave=wave, as_of=as_of, vote_count=len(result.votes), summary=_json_keys(summary)
    )


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


def edge_agreement_by(*, result: CampaignGraph, attribute: str) -> dict[tuple[int, int], dict[str, mg.Tally]]:
    """Each kept edge's tallies per value of a participant attribute (e.g. "age band")."""
    from chorus.accounts.models import Participant

    attributes = dict(
        Participant.objects.filter(pk__in=result.participant_of_user.values()).values_list("pk", "attributes")
    )
    group_of = {}
    for user, participant_id in result.participant_of_user.items():
        value = (attributes.get(participant_id) or {}).get(attribute)
        if value not in (None, ""):
            group_of[user] = str(value)
    return mg.split_by_group(result.votes, result.graph, group_of)


def _json_keys(data):
    """JSON objects need string keys."""
    if isinstance(data, dict):
        return {str(k): _json_keys(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_json_keys(v) for v in data]
    return data
