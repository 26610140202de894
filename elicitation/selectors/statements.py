"""Reads for statement voting: what a participant votes on next, and the campaign's opinion groups."""
from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet

from elicitation.domain.statements import group_aware_consensus, group_vote_counts, opinion_groups
from elicitation.models import Activity, Campaign, Statement, StatementVote

SVG_SIZE = 400
SVG_MARGIN = 16
GROUP_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]  # Polis' palette order
OUTSIDE_COLOUR = "#b8bec9"
CACHE_SECONDS = 600
STALENESS = 10


def statement_next(*, participant) -> Statement | None:
    """A statement the participant has not voted on, those with the fewest votes first (new ones get seen)."""
    return (
        Statement.objects.filter(campaign_id=participant.campaign_id)
        .exclude(status=Statement.Status.REJECTED)
        .exclude(votes__participant=participant)
        .annotate(n_votes=Count("votes"))
        .order_by("n_votes", "pk")
        .first()
    )


@dataclass(frozen=True)
class VoteMatrix:
    votes: np.ndarray  # (P, S): 1 agree, -1 disagree, 0 pass, NaN none
    voters: list[str]  # "p<participant id>" or "x<external voter id>", in order of first vote
    statements: list[Statement]
    moderated_out: np.ndarray  # (S,) bool


def campaign_vote_matrix(*, campaign: Campaign) -> VoteMatrix:
    statements = list(Statement.objects.filter(campaign=campaign).order_by("pk"))
    column = {s.pk: i for i, s in enumerate(statements)}
    rows = (StatementVote.objects.filter(statement__campaign=campaign)
            .order_by("created_at", "pk").values_list("statement_id", "participant_id", "external_voter_id", "choice"))
    voters: dict[str, int] = {}
    cells = []
    for statement_id, participant_id, external_id, choice in rows:
        if statement_id not in column:  # on a statement written since the first query: not in this matrix
            continue
        key = f"p{participant_id}" if participant_id else f"x{external_id}"
        cells.append((voters.setdefault(key, len(voters)), column[statement_id], choice))
    votes = np.full((len(voters), len(statements)), np.nan)
    if cells:
        r, c, v = np.array(cells).T
        votes[r, c] = v
    moderated_out = np.array([s.status == Statement.Status.REJECTED for s in statements], dtype=bool)
    return VoteMatrix(votes, list(voters), statements, moderated_out)


@dataclass(frozen=True)
class Point:
    x: float  # SVG coordinates
    y: float
    group: int  # -1: not (yet) in the conversation
    colour: str
    is_you: bool


@dataclass(frozen=True)
class GroupSummary:
    number: int  # shown from 1
    size: int
    colour: str


@dataclass(frozen=True)
class RankedStatement:
    statement: Statement
    consensus: float
    agrees: int
    disagrees: int
    passes: int
    group_agree: list[tuple[str, int | None]]  # (colour, percent of the group agreeing) per group


@dataclass(frozen=True)
class StatementGroups:
    points: list[Point]
    groups: list[GroupSummary]
    ranked: list[RankedStatement]
    voters: int
    votes: int
    in_conversation: int


def statement_groups(*, campaign: Campaign, participant=None) -> StatementGroups:
    """Opinion groups and statements ranked by group-aware consensus (ties by age), for the groups pages.

    Computed once per state of the votes and moderation and served from the cache to every poller.
    While votes pour in, a result that took s seconds to compute is reused for up to STALENESS·s
    seconds, so a large campaign is recomputed now and then, as Polis' math worker does, while a
    small one updates at once.
    """
    state = (StatementVote.objects.filter(statement__campaign=campaign)
             .aggregate(n=Count("pk"), last=Max("updated_at")))
    moderation = Statement.objects.filter(campaign=campaign).aggregate(
        n=Count("pk"), newest=Max("pk"), last=Max("moderated_at"),
        rejected=Count("pk", filter=Q(status=Statement.Status.REJECTED)),
    )
    fingerprint = hashlib.sha256(f"{state}:{sorted(moderation.items())}".encode()).hexdigest()[:32]
    key = _groups_key(campaign)
    latest = cache.get(key)  # (fingerprint, started, seconds it took, result), or None
    if latest is not None and (latest[0] == fingerprint or 0 <= time.time() - latest[1] < STALENESS * latest[2]):
        computed = latest[3]
    else:
        started, clock = time.time(), time.perf_counter()
        computed = _compute(campaign)
        cache.set(key, (fingerprint, started, time.perf_counter() - clock, computed), CACHE_SECONDS)
    matrix, groups, consensus = computed
    you = f"p{participant.pk}" if participant is not None else None
    return _present(matrix, groups, consensus, you)


def statement_groups_forget(*, campaign: Campaign) -> None:
    """Drops the campaign's cached groups, which hold statements' text (a withdrawal deletes some)."""
    cache.delete(_groups_key(campaign))


def _groups_key(campaign: Campaign) -> str:
    # One key per campaign, so that forgetting it forgets every statement it held. The campaign's
    # creation time keeps keys apart across databases that reuse ids (test runs).
    return f"statement-groups:{campaign.pk}:{campaign.created_at.timestamp()}"


def _compute(campaign: Campaign):
    matrix = campaign_vote_matrix(campaign=campaign)
    groups = opinion_groups(matrix.votes, matrix.moderated_out)
    return matrix, groups, group_aware_consensus(matrix.votes, groups.labels)


def _present(matrix: VoteMatrix, groups, consensus: np.ndarray, you: str | None) -> StatementGroups:
    labels = groups.labels
    k = groups.k
    agree, _, total = group_vote_counts(matrix.votes, labels)
    all_votes = ~np.isnan(matrix.votes)
    ranked = []
    for i in sorted(range(len(matrix.statements)), key=lambda i: (-consensus[i], matrix.statements[i].pk)):
        statement = matrix.statements[i]
        if statement.status == Statement.Status.REJECTED:
            continue
        column = matrix.votes[:, i]
        ranked.append(RankedStatement(
            statement=statement, consensus=float(consensus[i]),
            agrees=int(np.sum(column == 1)), disagrees=int(np.sum(column == -1)), passes=int(np.sum(column == 0)),
            group_agree=[(GROUP_COLOURS[g], round(100 * agree[g, i] / total[g, i]) if total[g, i] else None)
                         for g in range(k)],
        ))
    return StatementGroups(
        points=_points(groups.projection, labels, matrix.voters, you),
        groups=[GroupSummary(g + 1, int(np.sum(labels == g)), GROUP_COLOURS[g]) for g in range(k)],
        ranked=ranked, voters=len(matrix.voters), votes=int(all_votes.sum()),
        in_conversation=int(groups.in_conv.sum()),
    )


def _points(projection: np.ndarray, labels: np.ndarray, voters: list[str], you: str | None) -> list[Point]:
    if not len(projection):
        return []
    low, high = projection.min(axis=0), projection.max(axis=0)
    span = np.where(high - low > 0, high - low, 1.0)
    inner = SVG_SIZE - 2 * SVG_MARGIN
    xy = SVG_MARGIN + (projection - low) / span * inner
    xy[:, 1] = SVG_SIZE - xy[:, 1]  # SVG's y grows downwards
    return [
        Point(x=round(float(x), 1), y=round(float(y), 1), group=int(g),
              colour=GROUP_COLOURS[g] if g >= 0 else OUTSIDE_COLOUR, is_you=voter == you)
        for (x, y), g, voter in zip(xy, labels, voters)
    ]


def statement_campaigns() -> QuerySet[Campaign]:
    """Campaigns that run statement voting, each with `n_statements`."""
    return Campaign.objects.filter(activities__contains=[Activity.PRINCIPLES]).annotate(
        n_statements=Count("statements", distinct=True)
    )


def statements_for_moderation(*, campaign: Campaign) -> QuerySet[Statement]:
    """Newest first, each with `n_votes`."""
    return Statement.objects.filter(campaign=campaign).annotate(n_votes=Count("votes")).order_by("-pk")


def statement_votes_cast(*, participant) -> int:
    return StatementVote.objects.filter(participant=participant).count()
