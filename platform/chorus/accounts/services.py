"""Writes for participants and API tokens."""
from __future__ import annotations

import secrets
from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser
from django.contrib.sessions.backends.base import SessionBase
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from chorus.accounts.models import ApiToken, Participant, Scope
from chorus.accounts.tokens import token_generate, token_hash

SESSION_KEY_PREFIX = "chorus.participant."


def session_key_for(campaign_id: int) -> str:
    return f"{SESSION_KEY_PREFIX}{campaign_id}"


@transaction.atomic
def participant_join(*, campaign, session: SessionBase) -> Participant:
    """The participant this browser already is in the campaign, or a new one bound to the session."""
    existing = session.get(session_key_for(campaign.pk))
    if existing:
        participant = Participant.objects.filter(public_id=existing, campaign=campaign).first()
        if participant:
            return participant
    participant = Participant.objects.create(campaign=campaign)
    session[session_key_for(campaign.pk)] = str(participant.public_id)
    return participant


def participant_consent(*, participant: Participant) -> Participant:
    if participant.consented_at is None:
        participant.consented_at = timezone.now()
        participant.save(update_fields=["consented_at"])
    return participant


def participant_complete(*, participant: Participant) -> Participant:
    """Marks the participant done and gives them a completion code (for panels such as Prolific)."""
    if participant.completed_at is None:
        participant.completed_at = timezone.now()
        participant.completion_code = secrets.token_hex(4).upper()
        participant.save(update_fields=["completed_at", "completion_code"])
    return participant


@transaction.atomic
def participant_withdraw(*, participant: Participant, session: SessionBase) -> None:
    """Deletes the participant and, through cascades, everything they contributed."""
    session.pop(session_key_for(participant.campaign_id), None)
    participant.delete()


def api_token_create(*, user: AbstractBaseUser, name: str, scopes: Iterable[str]) -> tuple[ApiToken, str]:
    """Returns the token row and the plaintext token, which is shown once and never stored."""
    name = name.strip()
    scopes = sorted(set(scopes))
    errors: dict[str, str] = {}
    if not name or len(name) > 100:
        errors["name"] = "Give the token a name of 1 to 100 characters."
    unknown = [s for s in scopes if s not in Scope.values]
    if not scopes:
        errors["scopes"] = "Choose at least one scope."
    elif unknown:
        errors["scopes"] = f"Unknown scope(s): {', '.join(unknown)}. Known: {', '.join(Scope.values)}."
    if errors:
        raise ValidationError(errors)
    prefix, plaintext = token_generate()
    token = ApiToken.objects.create(user=user, name=name, prefix=prefix, key_hash=token_hash(plaintext), scopes=scopes)
    return token, plaintext


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_touch(*, token: ApiToken) -> None:
    """Records use, at most once a minute, so a busy client doesn't write on every request."""
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
