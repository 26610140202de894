"""Writes for the moral graph: wisdom-upgrade stories proposed by the LLM, participants' answers to them
("Did this person become wiser?"), and snapshots that freeze the graph as MAI JSON."""
from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import combinations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone

from chorus import llm
from chorus.accounts.models import Participant
from chorus.inference import InferenceError
from elicitation.domain.moral_graph import GraphRedaction, graph_redact
from elicitation.domain.moral_graph_mai import MaiStudyRefused, StudyFile, StudyValue, StudyVote, mai_study_read
from elicitation.models import (
    Activity,
    Campaign,
    CampaignJob,
    CanonicalCard,
    CardImpression,
    Context,
    EdgeVote,
    GraphSnapshot,
    Relationship,
    UpgradeStory,
    Wave,
)
from elicitation.prompts import moral_graph as prompts
from elicitation.selectors.campaigns import wave_window
from elicitation.selectors.moral_graph import graph_compute, graph_summary, upgrades_answered_ids
from elicitation.services.campaigns import campaign_create, campaign_job_queue, campaign_require_open

log = logging.getLogger(__name__)

UPGRADES_PER_PARTICIPANT = 3
COMMENT_MAX_CHARS = 1000
# The original questions are not in MAI's tables; the curator can name them on import.
IMPORTED_QUESTION = "The questions of the imported study (not part of its files)"
BATCH_SIZE = 5_000


def graph_snapshot_create(*, campaign: Campaign, wave: Wave | None = None, as_of: datetime | None = None) -> GraphSnapshot:
    """Freezes the graph as MAI JSON. For a wave, as of the wave's end."""
    if wave is not None and wave.campaign_id != campaign.pk:
        raise ValidationError({"wave": "This wave belongs to another campaign."})
    if as_of is None:
        as_of = (wave_window(wave=wave)[1] or timezone.now()) if wave else timezone.now()
    result = graph_compute(campaign=campaign, as_of=as_of)
    summary = graph_summary(result=result, campaign=campaign)
    return GraphSnapshot.objects.create(
        campaign=campaign, wave=wave, as_of=as_of, vote_count=len(result.votes), summary=summary
    )


def graph_snapshots_redact(*, campaign_id: int, redaction: GraphRedaction) -> int:
    """A withdrawal's changes applied to the campaign's frozen snapshots (deleted values and contexts
    out, re-worded values in their new words; see `graph_redact`). Returns how many changed."""
    if not redaction:
        return 0
    changed = 0
    for snapshot in GraphSnapshot.objects.select_for_update().filter(campaign_id=campaign_id).order_by("pk"):
        result = graph_redact(snapshot.summary or {}, redaction)
        if result.rows_removed or result.rows_reworded:
            snapshot.summary = result.summary
            snapshot.save(update_fields=["summary"])
            changed += 1
    return changed


@dataclass
class StoriesResult:
    made: int = 0
    failed: list[str] = field(default_factory=list)  # one line per pair the LLM could not write a story for


def upgrade_stories_propose(*, campaign: Campaign, limit: int = 50,
                            progress: Callable[[int], None] | None = None) -> StoriesResult:
    """Writes stories for value pairs in a shared context that have none yet; says how many, and
    which pairs failed (a pair the LLM fails on is skipped, not the rest). `progress` hears the
    count after each story."""
    rng = random.Random(campaign.pk)
    result = StoriesResult()
    for context, a, b in _pairs_without_story(campaign):
        if result.made >= limit:
            break
        # The direction is a hypothesis; participants' "No" answers are what reject it.
        source, target = (a, b) if rng.random() < 0.5 else (b, a)
        messages = [
            {"role": "system", "content": prompts.STORY_SYSTEM},
            {"role": "user", "content": f"Situation: {context.text}\n\n"
                                        f"Value A:\n{prompts.delimit(prompts.card_json(_card(source)))}\n\n"
                                        f"Value B:\n{prompts.delimit(prompts.card_json(_card(target)))}"},
        ]
        backend = llm.chat_backend()
        try:
            story = json.loads(backend.complete(messages, json_schema=prompts.STORY_SCHEMA, max_tokens=220))["story"]
            if not isinstance(story, str) or not story.strip():
                raise ValueError("the story is empty")
        except (InferenceError, ValueError, KeyError, TypeError) as exc:
            log.warning("upgrade story failed", extra={"campaign": campaign.pk, "context": context.pk, "error": str(exc)})
            result.failed.append(f"“{source.title}” → “{target.title}”: {exc}")
            continue
        UpgradeStory.objects.create(
            campaign=campaign, context=context, from_card=source, to_card=target,
            story=story.strip(), model_name=getattr(backend, "name", ""),
        )
        result.made += 1
        if progress:
            progress(result.made)
    return result


def _card(card) -> dict:
    return {"title": card.title, "description": card.description, "policies": card.policies}


def _pairs_without_story(campaign: Campaign) -> Iterator[tuple[Context, CanonicalCard, CanonicalCard]]:
    existing = {
        (s.context_id, frozenset((s.from_card_id, s.to_card_id)))
        for s in UpgradeStory.objects.filter(campaign=campaign)
    }
    for context in campaign.contexts.prefetch_related("cards").order_by("pk"):
        cards = sorted(context.cards.all(), key=lambda c: c.pk)
        for a, b in combinations(cards, 2):
            if (context.pk, frozenset((a.pk, b.pk))) not in existing:
                yield context, a, b


def upgrade_stories_outlook(*, campaign: Campaign) -> str:
    """Why no story can be proposed now, and what to do; "" when some pair of values still needs one."""
    if next(_pairs_without_story(campaign), None) is not None:
        return ""
    values = CanonicalCard.objects.filter(campaign=campaign).count()
    if not values:
        return ("No values yet. A value appears once a participant confirms a card in an interview and deduplication "
                "places it. Share the join link, then propose stories again.")
    shared = Context.objects.filter(campaign=campaign).annotate(n=Count("cards")).filter(n__gte=2).count()
    if not shared:
        contexts = Context.objects.filter(campaign=campaign).count()
        return (f"No two values share a context yet ({values} value{'s' if values != 1 else ''}, "
                f"{contexts} context{'s' if contexts != 1 else ''}). A story compares two values that guide the same "
                "situation; more interviews on the same question bring values that share contexts.")
    stories = UpgradeStory.objects.filter(campaign=campaign).count()
    return (f"Every pair of values that share a context has a story already ({stories}). New values bring new pairs; "
            "participants can answer the stories there are.")


STORIES_TASK = "elicitation.tasks.upgrade_stories_propose"


def upgrade_stories_request(*, campaign: Campaign, user=None) -> CampaignJob:
    """Queues story writing on a CPU worker (it calls the LLM once per pair), or records at once
    why there is nothing to write."""
    return campaign_job_queue(campaign=campaign, kind=CampaignJob.Kind.UPGRADE_STORIES, task=STORIES_TASK,
                              nothing_to_do=upgrade_stories_outlook(campaign=campaign), user=user)


def upgrade_draw(*, participant, answered: list[int] | None = None) -> list[UpgradeStory]:
    """Stories the participant has not answered yet, those touching values they picked first.
    `answered`: the stories they answered (upgrades_answered_ids), when the caller has read them."""
    if answered is None:
        answered = upgrades_answered_ids(participant=participant)
    stories = list(
        UpgradeStory.objects.filter(campaign_id=participant.campaign_id)
        .exclude(pk__in=answered)
        .select_related("from_card", "to_card", "context")
        # What the page shows: fewer columns to build and read (embeddings are arrays of floats).
        .only("campaign_id", "story", "context__text", *(f"{card}__{field}" for card in ("from_card", "to_card")
                                                         for field in ("title", "description", "policies")))
    )
    picked = set(CardImpression.objects.filter(participant=participant, picked=True).values_list("card_id", flat=True))
    rng = random.Random(f"{participant.public_id}:upgrades")
    rng.shuffle(stories)
    stories.sort(key=lambda s: -len({s.from_card_id, s.to_card_id} & picked))  # stable: shuffled within ties
    return stories[: max(0, UPGRADES_PER_PARTICIPANT - len(answered))]


def edge_vote_cast(*, participant, story: UpgradeStory, relationship: str, comment: str = "") -> EdgeVote:
    """One answer per participant and edge, enforced by the database: a repeat returns the first."""
    campaign_require_open(participant.campaign, doing="answers about wisdom upgrades", activity=Activity.UPGRADES)
    if story.campaign_id != participant.campaign_id:
        raise ValidationError({"story": "This story belongs to another study."})
    if relationship not in Relationship.values:
        raise ValidationError({"relationship": "Choose Yes, No or Not sure."})
    comment = (comment or "").strip()
    if len(comment) > COMMENT_MAX_CHARS:
        raise ValidationError({"comment": f"Keep your reason under {COMMENT_MAX_CHARS} characters."})
    try:
        with transaction.atomic():
            # Serialises the cap check: the participant's row, locked, not read.
            list(Participant.objects.select_for_update().filter(pk=participant.pk).values_list("pk"))
            answered = upgrades_answered_ids(participant=participant)
            if story.pk in answered:
                return EdgeVote.objects.get(participant=participant, story=story)
            if len(answered) >= UPGRADES_PER_PARTICIPANT:
                raise ValidationError({"story": f"You have answered the {UPGRADES_PER_PARTICIPANT} questions asked "
                                                "of you; thank you."})
            return EdgeVote.objects.create(
                campaign_id=story.campaign_id, participant=participant, story=story,
                from_card_id=story.from_card_id, to_card_id=story.to_card_id, context_id=story.context_id,
                relationship=relationship, comment=comment, created_at=timezone.now(),
            )
    except IntegrityError:
        return EdgeVote.objects.get(participant=participant, from_card_id=story.from_card_id,
                                    to_card_id=story.to_card_id, context_id=story.context_id)


@dataclass(frozen=True)
class MaiImportSummary:
    campaign: Campaign
    values: int
    contexts: int
    votes: int
    voters: int
    stories: int
    repeats: int  # rows that repeated a vote already in the file, counted once with it


# Importing a published MAI study (its files are read in domain/moral_graph_mai.py).

def mai_study_import(
    *,
    title: str,
    values: StudyFile,
    edges: StudyFile,
    questions: Sequence[str] = (),
    description: str = "",
) -> MaiImportSummary:
    """Creates a closed campaign holding the study's values, contexts, stories and votes."""
    try:
        study = mai_study_read(values=values, edges=edges)
    except MaiStudyRefused as exc:
        raise ValidationError(exc.problems) from None
    with transaction.atomic():
        campaign = campaign_create(
            title=title, description=description, questions=list(questions) or [IMPORTED_QUESTION],
            activities=(), status=Campaign.Status.CLOSED,
        )
        return _write(campaign, study.values, study.votes, repeats=study.repeats)


def _write(campaign: Campaign, values: list[StudyValue], votes: list[StudyVote], *, repeats: int) -> MaiImportSummary:
    # Rows are built with ids, not related objects: Django checks every related object before an
    # insert, which costs more than the insert itself at 100k votes.
    cards = CanonicalCard.objects.bulk_create(
        [CanonicalCard(campaign_id=campaign.pk, title=v.title, description=v.description, policies=v.policies,
                       instructions_detailed=v.instructions_detailed, external_id=v.external_id) for v in values],
        batch_size=BATCH_SIZE,
    )
    card = {c.external_id: c.pk for c in cards}  # PostgreSQL returns the new primary keys
    texts = list(dict.fromkeys(v.context for v in votes))
    context = {c.text: c.pk for c in Context.objects.bulk_create(
        [Context(campaign_id=campaign.pk, text=t) for t in texts], batch_size=BATCH_SIZE)}
    # A context applies to the values voted on in it, as it does for values elicited in Chorus.
    applies = dict.fromkeys((v.context, vid) for v in votes for vid in (v.from_id, v.to_id))
    Through = Context.cards.through
    Through.objects.bulk_create(
        [Through(context_id=context[t], canonicalcard_id=card[vid]) for t, vid in applies], batch_size=BATCH_SIZE)
    # One story per (from, to, context), as participants see it; the first text in the file wins.
    told: dict[tuple[str, str, str], UpgradeStory] = {}
    for v in votes:
        if v.story and (v.from_id, v.to_id, v.context) not in told:
            told[v.from_id, v.to_id, v.context] = UpgradeStory(
                campaign_id=campaign.pk, context_id=context[v.context], from_card_id=card[v.from_id],
                to_card_id=card[v.to_id], story=v.story)
    UpgradeStory.objects.bulk_create(told.values(), batch_size=BATCH_SIZE)
    story = {key: s.pk for key, s in told.items()}
    EdgeVote.objects.bulk_create(
        [EdgeVote(campaign_id=campaign.pk, participant_id=None, external_user_id=v.user,
                  story_id=story.get((v.from_id, v.to_id, v.context)), from_card_id=card[v.from_id],
                  to_card_id=card[v.to_id], context_id=context[v.context], relationship=v.relationship,
                  comment=v.comment, created_at=v.created_at) for v in votes],
        batch_size=BATCH_SIZE,
    )
    return MaiImportSummary(
        campaign=campaign, values=len(cards), contexts=len(context), votes=len(votes),
        voters=len({v.user for v in votes}), stories=len(told), repeats=repeats,
    )
