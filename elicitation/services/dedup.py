"""Deduplication: each confirmed card joins an existing canonical value or becomes a new one.

Candidates are the canonical cards of the same question whose policies embed within
DISTANCE_THRESHOLD (cosine distance) of the new card's; an LLM judge decides "same value?" for the
nearest few. Exact search in numpy: a campaign has thousands of values, not millions.
"""
from __future__ import annotations

import json

import numpy as np
from django.db import transaction

from .. import prompts
from ..cards import policies_text
from ..models import CanonicalCard, Context, ValuesCard

DISTANCE_THRESHOLD = 0.35
MAX_JUDGED = 3
CONTEXT_DISTANCE_THRESHOLD = 0.12


def embed_policies(policies_list: list[list[str]]) -> np.ndarray:
    return embedder_texts([policies_text(p) for p in policies_list])


def nearest_candidates(vector: np.ndarray, canonicals: list[CanonicalCard]) -> list[tuple[CanonicalCard, float]]:
    """Canonical cards under the distance threshold, nearest first."""
    with_vectors = [c for c in canonicals if c.embedding]
    if not with_vectors:
        return []
    matrix = np.asarray([c.embedding for c in with_vectors], dtype=np.float32)  # (N, 384), normalised
    distances = 1.0 - matrix @ vector
    order = np.argsort(distances, kind="stable")
    return [(with_vectors[i], float(distances[i])) for i in order if distances[i] <= DISTANCE_THRESHOLD]


def judge_same_value(a: dict, b: dict) -> bool:
    """The LLM judge; card text is participant-derived, so it goes in delimited."""
    from chorus.llm import chat_backend

    messages = [
        {"role": "system", "content": prompts.JUDGE_SYSTEM},
        {"role": "user", "content": f"Card 1:\n{prompts.delimit(prompts.card_json(a))}\n\n"
                                    f"Card 2:\n{prompts.delimit(prompts.card_json(b))}"},
    ]
    raw = chat_backend().complete(messages, json_schema=prompts.JUDGE_SCHEMA, max_tokens=12)
    return bool(json.loads(raw)["same"])


def card_deduplicate(*, card: ValuesCard) -> CanonicalCard:
    """Links the card to its canonical value (idempotent: a linked card is left as it is)."""
    if card.canonical_id:
        return card.canonical
    vector = embed_policies([card.policies])[0]
    canonicals = list(CanonicalCard.objects.filter(campaign_id=card.question.campaign_id, question=card.question))
    for candidate, distance in nearest_candidates(vector, canonicals)[:MAX_JUDGED]:
        if judge_same_value(_card_dict(card), _card_dict(candidate)):
            _link(card, candidate, method="judge", distance=distance)
            return candidate
    with transaction.atomic():
        canonical = CanonicalCard.objects.create(
            campaign_id=card.question.campaign_id, question=card.question, title=card.title,
            description=card.description, policies=card.policies, embedding=[float(x) for x in vector],
        )
        _link(card, canonical, method="new", distance=None)
    return canonical


def card_move(*, card: ValuesCard, canonical: CanonicalCard | None) -> CanonicalCard:
    """Curator decision: merge the card into `canonical`, or split it off as a new value (None)."""
    with transaction.atomic():
        if canonical is None:
            vector = embed_policies([card.policies])[0]
            canonical = CanonicalCard.objects.create(
                campaign_id=card.question.campaign_id, question=card.question, title=card.title,
                description=card.description, policies=card.policies, embedding=[float(x) for x in vector],
            )
        elif canonical.campaign_id != card.question.campaign_id:
            raise ValueError("A card can only join a value of its own campaign.")
        _link(card, canonical, method="curator", distance=None)
    return canonical


def contexts_generate(*, canonical: CanonicalCard) -> list[Context]:
    """Asks the LLM when this value applies; reuses an existing context with the same text."""
    from chorus.llm import chat_backend

    question = canonical.question.text if canonical.question else ""
    messages = [
        {"role": "system", "content": prompts.CONTEXTS_SYSTEM},
        {"role": "user", "content": f"Question: {question}\n\nValue:\n"
                                    f"{prompts.delimit(prompts.card_json(_card_dict(canonical)))}"},
    ]
    raw = chat_backend().complete(messages, json_schema=prompts.CONTEXTS_SCHEMA, max_tokens=120)
    texts = sorted({" ".join(t.split()).rstrip(".") for t in json.loads(raw)["contexts"]})
    contexts = []
    with transaction.atomic():
        existing = list(Context.objects.select_for_update().filter(campaign_id=canonical.campaign_id))
        for text, vector in zip(texts, embedder_texts(texts)):
            context = _same_context(vector, existing) or Context.objects.create(
                campaign_id=canonical.campaign_id, text=text, embedding=[float(x) for x in vector]
            )
            if context not in existing:
                existing.append(context)
            context.cards.add(canonical)
            contexts.append(context)
    return contexts


def embedder_texts(texts: list[str]) -> np.ndarray:
    from chorus.llm import embedder

    return embedder().embed(texts)


def _same_context(vector: np.ndarray, existing: list[Context]) -> Context | None:
    """Contexts are deduplicated by meaning: a near-identical situation reuses the existing one."""
    best, best_distance = None, CONTEXT_DISTANCE_THRESHOLD
    for context in existing:
        if context.embedding:
            distance = 1.0 - float(np.dot(np.asarray(context.embedding, dtype=np.float32), vector))
            if distance <= best_distance:
                best, best_distance = context, distance
    return best


def _card_dict(card) -> dict:
    return {"title": card.title, "description": card.description, "policies": card.policies}


def _link(card: ValuesCard, canonical: CanonicalCard, *, method: str, distance: float | None) -> None:
    card.canonical = canonical
    card.dedup_method = method
    card.dedup_distance = distance
    card.save(update_fields=["canonical", "dedup_method", "dedup_distance"])
