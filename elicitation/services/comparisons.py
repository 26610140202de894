"""System messages and live comparisons: two responses generated, streamed, shown in random order."""
from __future__ import annotations

import random
from collections.abc import Iterator

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from chorus import llm
from chorus.accounts.models import Participant
from elicitation.domain.comparisons import WITH_SYSTEM, WITHOUT_SYSTEM
from elicitation.domain.text import same_reply, trim_to_sentence
from elicitation.models import DIMENSIONS, Activity, Comparison, SystemMessage
from elicitation.services.campaigns import CampaignClosed, campaign_require_open

SYSTEM_MESSAGE_MAX_CHARS = 2000
DIMENSION_MAX_CHARS = 300
PROMPT_MAX_CHARS = 1000
REASON_MAX_CHARS = 1000
# A participant cannot pour in unlimited judgements (ballot stuffing).
COMPARISONS_PER_PARTICIPANT = 20
RESPONSE_PARAMS = {"max_tokens": 96, "temperature": 0.8}
# How many times a response that came out the same as the other is generated again before giving up.
DUPLICATE_RETRIES = 2


IDENTICAL_PAIR = ("Both answers came out the same, even after asking again, so there is nothing to choose "
                  "between. Start another comparison.")


class ComparisonError(Exception):
    """A rule the participant should be told about in plain words."""


def system_message_write(*, participant, text: str, dimensions: dict[str, str] | None = None,
                         adopted_from: SystemMessage | None = None) -> SystemMessage:
    _require_open(participant)
    text = (text or "").strip()
    if not text:
        raise ValidationError({"text": "Write how you want to be answered."})
    if len(text) > SYSTEM_MESSAGE_MAX_CHARS:
        raise ValidationError({"text": f"Keep the system message under {SYSTEM_MESSAGE_MAX_CHARS} characters."})
    known = {key for key, _, _ in DIMENSIONS}
    cleaned = {k: v.strip() for k, v in (dimensions or {}).items() if k in known and (v or "").strip()}
    too_long = [k for k, v in cleaned.items() if len(v) > DIMENSION_MAX_CHARS]
    if too_long:
        raise ValidationError({too_long[0]: f"Keep each dimension under {DIMENSION_MAX_CHARS} characters."})
    if adopted_from is not None and adopted_from.campaign_id != participant.campaign_id:
        raise ValidationError({"adopted_from": "That system message belongs to another study."})
    return SystemMessage.objects.create(campaign_id=participant.campaign_id, participant=participant, text=text,
                                        dimensions=cleaned, adopted_from=adopted_from)


def system_message_adopt(*, participant, source: SystemMessage) -> SystemMessage:
    return system_message_write(participant=participant, text=source.text, dimensions=source.dimensions,
                                adopted_from=source)


@transaction.atomic
def comparison_create(*, participant, prompt: str, mode: str = Comparison.Mode.WITH_WITHOUT) -> Comparison:
    """Sets up a comparison for the participant's current system message; responses come by streaming."""
    _require_open(participant)
    prompt = (prompt or "").strip()
    if not prompt:
        raise ValidationError({"prompt": "Choose or write a prompt."})
    if len(prompt) > PROMPT_MAX_CHARS:
        raise ValidationError({"prompt": f"Keep the prompt under {PROMPT_MAX_CHARS} characters."})
    if mode not in Comparison.Mode.values:
        raise ValidationError({"mode": "Unknown comparison mode."})
    Participant.objects.select_for_update().get(pk=participant.pk)  # serialises the cap check
    if Comparison.objects.filter(participant=participant).count() >= COMPARISONS_PER_PARTICIPANT:
        raise ComparisonError(f"You have made {COMPARISONS_PER_PARTICIPANT} comparisons, the most one person can make.")
    system_message = SystemMessage.objects.filter(participant=participant).first()
    if system_message is None:
        raise ComparisonError("Write your system message first.")
    model = f"{settings.CHORUS_LLM_BACKEND}:{settings.CHORUS_LLM_MODEL}"
    rng = random.Random()
    # Sampled, each response with its own seed: greedy decoding gave the same pair every time a prompt
    # came back, and two identical answers to judge.
    with_system = mode == Comparison.Mode.TWO_SAMPLES
    params_a = {**RESPONSE_PARAMS, "seed": rng.randrange(2**31), "system_message": True}
    params_b = {**RESPONSE_PARAMS, "seed": rng.randrange(2**31), "system_message": with_system}
    model_a, model_b = (model, model) if with_system else (f"{model} {WITH_SYSTEM}", f"{model} {WITHOUT_SYSTEM}")
    return Comparison.objects.create(
        campaign_id=participant.campaign_id, participant=participant, system_message=system_message,
        system_message_text=system_message.text, prompt=prompt, mode=mode, model_a=model_a, model_b=model_b,
        params_a=params_a, params_b=params_b, a_on_left=rng.random() < 0.5,
    )


def comparison_stream(*, comparison: Comparison, side: str) -> Iterator[str]:
    """Generates one side's response as it streams; `comparison_response` then gives what was stored.

    The stored response ends at a sentence boundary and is never the same as the other side's: a
    repeat is generated again with a new seed (see `_store`)."""
    if side not in ("a", "b"):
        raise ValueError(side)
    if getattr(comparison, f"response_{side}"):  # already generated (a reload)
        return
    params = dict(getattr(comparison, f"params_{side}"))
    messages = _messages(comparison, params.pop("system_message"))
    pieces = []
    for piece in llm.chat_backend().stream(messages, **params):
        pieces.append(piece)
        yield piece
    _store(comparison, side, "".join(pieces), messages)


def comparison_response(*, comparison: Comparison, side: str) -> str:
    """What is stored for the side: `comparison_stream` (or the read before it) left it on `comparison`."""
    return getattr(comparison, f"response_{side}")


def _messages(comparison: Comparison, use_system: bool) -> list[dict]:
    messages = [{"role": "system", "content": comparison.system_message_text}] if use_system else []
    return [*messages, {"role": "user", "content": comparison.prompt}]


def _store(comparison: Comparison, side: str, raw: str, messages: list[dict]) -> None:
    """Stores one side's response, trimmed to whole sentences, unless another delivery stored it first.

    When it is the same as the other side's, it is generated again with a new seed, up to
    DUPLICATE_RETRIES times; a pair that stays identical is stored so, and `comparison_decide`
    refuses it. The row lock makes the second side to finish the one that checks."""
    other = "b" if side == "a" else "a"
    params = dict(getattr(comparison, f"params_{side}"))
    text = trim_to_sentence(raw) or "(no response)"
    for attempt in range(DUPLICATE_RETRIES + 1):
        with transaction.atomic():
            row = Comparison.objects.select_for_update().get(pk=comparison.pk)
            if getattr(row, f"response_{side}"):  # another delivery stored it first: show that one
                setattr(comparison, f"response_{side}", getattr(row, f"response_{side}"))
                return
            if attempt == DUPLICATE_RETRIES or not same_reply(text, getattr(row, f"response_{other}")):
                Comparison.objects.filter(pk=row.pk).update(**{f"response_{side}": text, f"params_{side}": params})
                setattr(comparison, f"response_{side}", text)
                setattr(comparison, f"params_{side}", params)
                return
        params["seed"] = random.randrange(2**31)
        generation = {k: v for k, v in params.items() if k != "system_message"}
        text = trim_to_sentence(llm.chat_backend().complete(messages, **generation)) or "(no response)"


def comparison_decide(*, comparison: Comparison, choice: str, reason: str = "") -> Comparison:
    _require_open(comparison.participant)
    if choice not in Comparison.Choice.values:
        raise ValidationError({"choice": "Pick A, B, tie or both bad."})
    reason = (reason or "").strip()
    if len(reason) > REASON_MAX_CHARS:
        raise ValidationError({"reason": f"Keep the reason under {REASON_MAX_CHARS} characters."})
    comparison.refresh_from_db()
    if not comparison.is_ready:
        raise ComparisonError("Wait until both responses have finished.")
    if comparison.is_identical:
        raise ComparisonError(IDENTICAL_PAIR)
    if comparison.choice:
        raise ComparisonError("You have already judged this pair.")
    decided_at = timezone.now()
    updated = Comparison.objects.filter(pk=comparison.pk, choice="").update(
        choice=choice, reason=reason, decided_at=decided_at
    )
    if not updated:
        raise ComparisonError("You have already judged this pair.")
    comparison.choice, comparison.reason, comparison.decided_at = choice, reason, decided_at
    return comparison


def _require_open(participant) -> None:
    try:
        campaign_require_open(participant.campaign, doing="comparisons", activity=Activity.COMPARISONS)
    except CampaignClosed as exc:
        raise ComparisonError(str(exc)) from None
