"""Values: each confirmed card is deduplicated: it joins an existing canonical value or becomes a new one;
the contexts a value guides are generated; and participants vote on which peers' values are wise.

Candidates are the canonical cards of the same question whose policies embed within
DISTANCE_THRESHOLD (cosine distance) of the new card's. Who decides "same value?" for the nearest
few depends on the mode (`selectors.dedup.dedup_mode`): the LLM judge, once it has calibrated as
better than chance; otherwise embedding distance alone at a tighter threshold, with the candidates
between the two thresholds queued as borderline pairs for a curator (`services.dedup`).
Exact search in numpy: a campaign has thousands of values, not millions.
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from functools import cache

import numpy as np
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from chorus import llm
from chorus.dispatch import dispatch_on_commit
from chorus.inference import ChatBackend, NotSupported
from elicitation.domain.values import DISTANCE_THRESHOLD, policies_text
from elicitation.models import (
    Activity,
    BorderlinePair,
    CanonicalCard,
    CardImpression,
    Context,
    EdgeVote,
    Question,
    UpgradeStory,
    ValuesCard,
)
from elicitation.prompts import values as prompts
from elicitation.selectors.dedup import dedup_mode
from elicitation.services.campaigns import campaign_require_open

MAX_JUDGED = 3
CONTEXT_DISTANCE_THRESHOLD = 0.12
# Contextual calibration (Zhao et al. 2021): the judge's margin on cards that say nothing is its lean.
CONTENT_FREE_CARDS = [
    {"title": "", "description": "", "policies": []},
    {"title": "N/A", "description": "N/A", "policies": ["N/A"]},
]


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
    """The LLM judge: "Yes" beats "No" by more than the model's lean on content-free cards.

    Backends without logprobs (the OpenAI API) answer in JSON instead."""
    backend = llm.chat_backend()
    try:
        return yes_no_margin(backend, a, b) > content_free_lean(backend)
    except NotSupported:
        return judge_same_value_json(backend, a, b)


def yes_no_margin(backend: ChatBackend, a: dict, b: dict) -> float:
    """log P("Yes") - log P("No") for "same value?"; card text is participant-derived, so it goes in delimited."""
    messages = [
        {"role": "system", "content": prompts.JUDGE_YES_NO_SYSTEM},
        {"role": "user", "content": f"{_cards_text(a, b)}\n\n{prompts.JUDGE_QUESTION}"},
    ]
    yes, no = backend.logprobs(messages, prompts.JUDGE_ANSWERS)
    return yes - no


@cache
def content_free_lean(backend: ChatBackend) -> float:
    """How much the model favours "Yes" when the cards carry no content; once per backend and process."""
    return float(np.mean([yes_no_margin(backend, card, card) for card in CONTENT_FREE_CARDS]))


def judge_same_value_json(backend: ChatBackend, a: dict, b: dict) -> bool:
    messages = [
        {"role": "system", "content": prompts.JUDGE_SYSTEM},
        {"role": "user", "content": _cards_text(a, b)},
    ]
    raw = backend.complete(messages, json_schema=prompts.JUDGE_SCHEMA, max_tokens=12)
    return bool(json.loads(raw)["same"])


def _cards_text(a: dict, b: dict) -> str:
    return (f"Card 1:\n{prompts.delimit(prompts.card_json(a))}\n\n"
            f"Card 2:\n{prompts.delimit(prompts.card_json(b))}")


def card_deduplicate(*, card: ValuesCard) -> CanonicalCard:
    """Links the card to its canonical value (idempotent: a linked card is left as it is)."""
    if card.canonical_id:
        return card.canonical
    vector = embed_policies([card.policies])[0]
    canonicals = list(CanonicalCard.objects.filter(campaign_id=card.question.campaign_id, question=card.question))
    candidates = nearest_candidates(vector, canonicals)[:MAX_JUDGED]
    mode = dedup_mode()
    if mode.uses_judge:
        method, match, borderline = "judge", _judged_same(card, candidates), []
    else:
        method = "embedding"
        match = next(((c, d) for c, d in candidates if d <= mode.tight), None)
        borderline = [] if match else candidates  # all beyond the tight threshold: a curator decides
    with transaction.atomic():
        # The judge takes seconds: a curator (or an earlier delivery) may have placed the card meanwhile.
        if ValuesCard.objects.select_for_update().get(pk=card.pk).canonical_id:
            card.refresh_from_db(fields=["canonical", "dedup_method", "dedup_distance"])
            return card.canonical
        if match:
            _link(card, match[0], method=method, distance=match[1])
            return match[0]
        canonical = CanonicalCard.objects.create(
            campaign_id=card.question.campaign_id, question=card.question, title=card.title,
            description=card.description, policies=card.policies, embedding=[float(x) for x in vector],
        )
        _link(card, canonical, method="new", distance=None)
        BorderlinePair.objects.bulk_create(
            [BorderlinePair(card=card, canonical=c, distance=d) for c, d in borderline], ignore_conflicts=True)
    return canonical


def _judged_same(card: ValuesCard, candidates: list[tuple[CanonicalCard, float]]) -> tuple[CanonicalCard, float] | None:
    """The nearest candidate the judge calls the same value, with its distance; None if there is none."""
    for candidate, distance in candidates:
        if judge_same_value(_card_dict(card), _card_dict(candidate)):
            return candidate, distance
    return None


def card_move(*, card: ValuesCard, canonical: CanonicalCard | None) -> CanonicalCard:
    """Curator decision: merge the card into `canonical`, or split it off as a value of its own (None).

    No value is left empty and visible, and a split never duplicates a value:
    - A merge that takes the last card out of a value retires that value (`merged_into` the target):
      it leaves the curators' page, the merge targets, the API and new voting draws, and keeps the
      impressions and votes cast on it.
    - A split brings back the value the card was merged out of, when it was retired into the card's
      value with the card's own wording. Otherwise, when the card's value is worded as the card (it was
      made from it), the card keeps the value, with the votes cast on those words, and its other cards
      become a new value worded as the earliest of them. Otherwise the card becomes a new value.

    Returns the card's value afterwards. Raises ValidationError, changing nothing, for a move that would
    change nothing, cross a campaign or question, or join a retired value.
    """
    if canonical is not None:
        _check_merge_target(card, canonical)
    current_id = ValuesCard.objects.filter(pk=card.pk).values_list("canonical_id", flat=True).get()
    current = CanonicalCard.objects.filter(pk=current_id).first()
    others = list(ValuesCard.objects.filter(canonical=current).exclude(pk=card.pk).order_by("created_at", "pk")
                  if current else [])
    # The new value's wording, embedded outside the lock: embedding is slow.
    donor = others[0] if current and others and _worded_as(current, card) else card
    vector = embed_policies([donor.policies])[0] if canonical is None else None
    with transaction.atomic():
        locked = ValuesCard.objects.select_for_update().get(pk=card.pk)
        siblings = ValuesCard.objects.select_for_update().filter(canonical_id=current_id).exclude(pk=card.pk) \
            if current_id else ValuesCard.objects.none()
        if locked.canonical_id != current_id or {c.pk for c in siblings} != {c.pk for c in others}:
            raise ValidationError("Someone moved this card or its value's cards meanwhile; reload the page and try again.")
        if canonical is not None:
            if canonical.pk == locked.canonical_id:
                raise ValidationError("The card is already part of that value.")
            _link(card, canonical, method="curator", distance=None)
            _retire_if_empty(current, into=canonical)
            return canonical
        if current is not None and not others:
            raise ValidationError("This card is already a value of its own.")
        return _split(card, current, others, donor, vector)


def _check_merge_target(card: ValuesCard, canonical: CanonicalCard) -> None:
    if canonical.campaign_id != card.question.campaign_id:
        raise ValidationError("A card can only join a value of its own campaign.")
    if canonical.question_id != card.question_id:
        raise ValidationError("A card can only join a value of the same question.")
    if canonical.merged_into_id:
        raise ValidationError("That value was merged into another one; choose one of the values listed.")


def _split(card: ValuesCard, current: CanonicalCard | None, others: list[ValuesCard], donor: ValuesCard,
           vector: np.ndarray) -> CanonicalCard:
    """The card's own value after a split (see `card_move`), inside its transaction."""
    retired = current and CanonicalCard.objects.filter(
        merged_into=current, question_id=card.question_id, title=card.title, description=card.description,
        policies=card.policies).order_by("-pk").first()
    if retired:
        retired.merged_into = None
        retired.save(update_fields=["merged_into"])
        _link(card, retired, method="curator", distance=None)
        dispatch_on_commit("elicitation.tasks.canonical_contexts_generate", retired.pk)
        return retired
    new = CanonicalCard.objects.create(
        campaign_id=card.question.campaign_id, question=card.question, title=donor.title,
        description=donor.description, policies=donor.policies, embedding=[float(x) for x in vector],
    )
    dispatch_on_commit("elicitation.tasks.canonical_contexts_generate", new.pk)  # a new value needs its contexts
    if donor is card:
        _link(card, new, method="curator", distance=None)
        return new
    for other in others:
        _link(other, new, method="curator", distance=None)
    _link(card, current, method="curator", distance=None)
    return current


def _worded_as(value: CanonicalCard, card: ValuesCard) -> bool:
    return (value.title, value.description, value.policies) == (card.title, card.description, card.policies)


def _retire_if_empty(value: CanonicalCard | None, *, into: CanonicalCard) -> None:
    """A participants' value that the move left without cards is retired into where its card went.
    An imported value has no cards of its own, so losing one leaves it as it was."""
    if value is None or value.external_id or ValuesCard.objects.filter(canonical=value).exists():
        return
    CanonicalCard.objects.filter(merged_into=value).update(merged_into=into)  # no chain of retired values
    value.merged_into = into
    value.save(update_fields=["merged_into"])
    value.contexts.clear()  # no new upgrade stories about it; brought back, it gets contexts again


def contexts_generate(*, canonical: CanonicalCard) -> list[Context]:
    """Asks the LLM when this value applies; reuses an existing context with the same text."""
    question = canonical.question.text if canonical.question else ""
    messages = [
        {"role": "system", "content": prompts.CONTEXTS_SYSTEM},
        {"role": "user", "content": f"Question: {question}\n\nValue:\n"
                                    f"{prompts.delimit(prompts.card_json(_card_dict(canonical)))}"},
    ]
    raw = llm.chat_backend().complete(messages, json_schema=prompts.CONTEXTS_SCHEMA, max_tokens=120)
    texts = sorted({" ".join(t.split()).rstrip(".") for t in json.loads(raw)["contexts"]})
    contexts = []
    with transaction.atomic():
        existing = list(Context.objects.select_for_update().filter(campaign_id=canonical.campaign_id))
        for text, vector in zip(texts, embedder_texts(texts)):
            # get_or_create: an imported context has the same text but may have no embedding.
            context = _same_context(vector, existing) or Context.objects.get_or_create(
                campaign_id=canonical.campaign_id, text=text, defaults={"embedding": [float(x) for x in vector]}
            )[0]
            if context not in existing:
                existing.append(context)
            context.cards.add(canonical)
            contexts.append(context)
    return contexts


def embedder_texts(texts: list[str]) -> np.ndarray:
    return llm.embedder().embed(texts)


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


VOTING_DRAW = 6


def voting_draw(*, participant, question: Question) -> list[CanonicalCard]:
    """Up to six peers' values for the question, the same ones in the same order on every visit.

    Showing a card records an impression, which the moral graph needs alongside the picks.
    """
    # In the order first drawn (the impressions were written in that order), so a revisit looks the same.
    shown = [impression.card for impression in CardImpression.objects.filter(participant=participant, question=question)
             .select_related("card").defer("card__embedding").order_by("pk")]
    if shown:
        return [card for card in shown if card.merged_into_id is None]
    own = participant.cards.filter(question=question, canonical__isnull=False).values_list("canonical_id", flat=True)
    pool = list(
        CanonicalCard.objects.filter(campaign_id=participant.campaign_id, question=question, merged_into__isnull=True)
        .exclude(pk__in=own).defer("embedding")  # arrays of floats: costly to load, not shown
    )
    rng = random.Random(f"{participant.public_id}:{question.pk}")
    drawn = rng.sample(pool, min(VOTING_DRAW, len(pool)))
    CardImpression.objects.bulk_create(
        [CardImpression(participant=participant, question=question, card=card) for card in drawn],
        ignore_conflicts=True,
    )
    return drawn


@transaction.atomic
def votes_submit(*, participant, question: Question, picked_ids: list[int]) -> int:
    """Records which shown cards the participant found wise. Resubmitting replaces the picks."""
    campaign_require_open(participant.campaign, doing="votes on values", activity=Activity.VOTING)
    impressions = CardImpression.objects.select_for_update().filter(participant=participant, question=question)
    shown = {i.card_id for i in impressions}
    picked = {int(i) for i in picked_ids}
    if not shown:
        raise ValidationError({"picked": "There is nothing to vote on for this question yet."})
    if picked - shown:
        raise ValidationError({"picked": "You can only pick among the values you were shown."})
    now = timezone.now()
    impressions.update(decided_at=now, picked=False)
    impressions.filter(card_id__in=picked).update(picked=True)
    return len(picked)


# Withdrawal --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValuesForgotten:
    deleted: frozenset[int] = frozenset()
    reworded: dict[int, dict] = field(default_factory=dict)  # value id -> its new wording
    contexts_deleted: frozenset[int] = frozenset()


def values_forget(*, worded: list[tuple[CanonicalCard, ValuesCard | None]]) -> ValuesForgotten:
    """Takes a withdrawing participant's wording out of the values it came from (see
    `selectors.values.canonicals_worded_by`), inside the withdrawal's transaction.

    - A value that someone else's card is also part of keeps its place in the graph (its votes and
      impressions stay) and takes the wording of the earliest such card, with a new embedding. Its
      upgrade stories go: the LLM wrote them from the old wording. Votes keep their edge.
    - A value no one else's card is part of is deleted; its impressions, votes and stories go with
      it (they were about this person's words).
    - Contexts of those values that no remaining vote uses and no other value holds are deleted: the
      LLM wrote them from the old wording too. A re-worded value left without contexts gets new ones
      from its new wording, on a worker.
    """
    if not worded:
        return ValuesForgotten()
    reword = [(value, donor) for value, donor in worded if donor is not None]
    delete = [value.pk for value, donor in worded if donor is None]
    touched = set(Context.objects.filter(cards__in=[value.pk for value, _ in worded]).values_list("pk", flat=True))
    vectors = embed_policies([donor.policies for _, donor in reword]) if reword else []
    reworded: dict[int, dict] = {}
    for (value, donor), vector in zip(reword, vectors):
        value.title, value.description, value.policies = donor.title, donor.description, donor.policies
        value.embedding = [float(x) for x in vector]
        value.save(update_fields=["title", "description", "policies", "embedding"])
        reworded[value.pk] = _card_dict(value)
    UpgradeStory.objects.filter(Q(from_card__in=reworded) | Q(to_card__in=reworded)).delete()
    CanonicalCard.objects.filter(pk__in=delete).delete()
    held_elsewhere = (Context.cards.through.objects.filter(context_id__in=touched)
                      .exclude(canonicalcard_id__in=list(reworded)).values("context_id"))
    stale = (Context.objects.filter(pk__in=touched).exclude(pk__in=held_elsewhere)
             .exclude(pk__in=EdgeVote.objects.filter(context_id__in=touched).values("context_id")))
    contexts_deleted = frozenset(stale.values_list("pk", flat=True))
    Context.objects.filter(pk__in=contexts_deleted).delete()
    for value_id in reworded:
        dispatch_on_commit("elicitation.tasks.canonical_contexts_generate", value_id)  # a no-op if it has some
    return ValuesForgotten(deleted=frozenset(delete), reworded=reworded, contexts_deleted=contexts_deleted)
