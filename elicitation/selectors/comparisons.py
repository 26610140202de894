"""Reads of system messages and comparisons: which campaigns have judged ones, and the judged rows for exports."""
from __future__ import annotations

from django.db.models import Count, Q, QuerySet

from chorus.accounts.models import Participant
from elicitation.domain.text import same_reply
from elicitation.models import Campaign, Comparison, SystemMessage


def campaigns_with_judged_comparisons() -> QuerySet[Campaign]:
    """Campaigns in which someone has judged a comparison, each with `judged_count`, by title."""
    judged = Count("comparisons", filter=Q(comparisons__decided_at__isnull=False))
    return Campaign.objects.annotate(judged_count=judged).filter(judged_count__gt=0).order_by("title", "pk")


def comparisons_decided(*, campaign: Campaign, since=None, until=None, chunk_size: int = 2000):
    """Judged comparisons of a campaign as plain dicts, streamed in a stable order, for exports.

    Dicts, not model instances, and no joins: exports stream millions of rows, and a join lets a
    planner with stale statistics pick a plan that takes minutes to return the first row. The few
    per-participant fields come from small lookups instead. Only consented participants' rows:
    comparisons are made after consent and withdrawal deletes them, and this holds to it as well.
    A participant's repeat of a pair they judged already, and pairs whose two responses are the same,
    are left out.
    """
    qs = Comparison.objects.filter(campaign=campaign, decided_at__isnull=False).order_by("participant_id", "pk")
    if since:
        qs = qs.filter(decided_at__gte=since)
    if until:
        qs = qs.filter(decided_at__lt=until)
    dimensions = dict(SystemMessage.objects.filter(campaign=campaign).values_list("pk", "dimensions"))
    public_ids = dict(Participant.objects.filter(campaign=campaign, consented_at__isnull=False)
                      .values_list("pk", "public_id"))
    rows = qs.values("participant_id", "system_message_id", "prompt", "response_a", "response_b", "choice",
                     "system_message_text")
    seen: set[tuple] = set()  # this participant's pairs so far; rows come participant by participant
    current = None
    for row in rows.iterator(chunk_size=chunk_size):
        if row["participant_id"] not in public_ids:
            continue
        if row["participant_id"] != current:
            current, seen = row["participant_id"], set()
        # The same pair judged twice by one person is one preference, and an identical pair is none.
        pair = (row["system_message_text"], row["prompt"], frozenset((row["response_a"], row["response_b"])))
        if same_reply(row["response_a"], row["response_b"]) or pair in seen:
            continue
        seen.add(pair)
        row["dimensions"] = dimensions.get(row["system_message_id"]) or {}
        row["participant_public_id"] = public_ids[row["participant_id"]]
        yield row


def comparison_battles(*, campaign: Campaign, dimension: str = "") -> list[tuple[str, str, str]]:
    """(model_a, model_b, choice) of every judged comparison, optionally only under system messages
    that set `dimension`."""
    rows = Comparison.objects.filter(campaign=campaign, decided_at__isnull=False)
    if dimension:
        rows = rows.filter(system_message__dimensions__has_key=dimension)
    return list(rows.values_list("model_a", "model_b", "choice"))


def system_message_of(*, participant) -> SystemMessage | None:
    return SystemMessage.objects.filter(participant=participant).first()


def system_messages_to_adopt(*, participant, limit: int = 5) -> list[SystemMessage]:
    """Other participants' own system messages (not adopted ones), which this participant may adopt."""
    return list(SystemMessage.objects.filter(campaign_id=participant.campaign_id, adopted_from__isnull=True)
                .exclude(participant=participant)[:limit])


def comparisons_judged_by(*, participant) -> int:
    return Comparison.objects.filter(participant=participant, decided_at__isnull=False).count()
