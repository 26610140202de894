"""Proposing wisdom upgrades: for two values that share a context, the LLM tells the story of
someone who moved from one to the other. Participants then judge whether that was wiser."""
from __future__ import annotations

import json
import random
from itertools import combinations

from .. import prompts
from ..models import Campaign, UpgradeStory


def upgrade_stories_propose(*, campaign: Campaign, limit: int = 50) -> int:
    """Writes stories for value pairs in a shared context that have none yet; returns how many."""
    from chorus.llm import chat_backend

    rng = random.Random(campaign.pk)
    existing = {
        (s.context_id, frozenset((s.from_card_id, s.to_card_id)))
        for s in UpgradeStory.objects.filter(campaign=campaign)
    }
    made = 0
    for context in campaign.contexts.prefetch_related("cards"):
        cards = sorted(context.cards.all(), key=lambda c: c.pk)
        for a, b in combinations(cards, 2):
            if made >= limit:
                return made
            if (context.pk, frozenset((a.pk, b.pk))) in existing:
                continue
            # The direction is a hypothesis; participants' "No" answers are what reject it.
            source, target = (a, b) if rng.random() < 0.5 else (b, a)
            messages = [
                {"role": "system", "content": prompts.STORY_SYSTEM},
                {"role": "user", "content": f"Situation: {context.text}\n\n"
                                            f"Value A:\n{prompts.delimit(prompts.card_json(_card(source)))}\n\n"
                                            f"Value B:\n{prompts.delimit(prompts.card_json(_card(target)))}"},
            ]
            story = json.loads(chat_backend().complete(messages, json_schema=prompts.STORY_SCHEMA, max_tokens=220))
            UpgradeStory.objects.create(
                campaign=campaign, context=context, from_card=source, to_card=target,
                story=story["story"].strip(), model_name=getattr(chat_backend(), "name", ""),
            )
            made += 1
    return made


def _card(card) -> dict:
    return {"title": card.title, "description": card.description, "policies": card.policies}


def upgrade_stories_request(*, campaign: Campaign) -> None:
    """Queues story writing on a CPU worker (it calls the LLM once per pair)."""
    from django.db import transaction

    from ..tasks import upgrade_stories_propose

    transaction.on_commit(lambda: upgrade_stories_propose.delay(campaign.pk))
