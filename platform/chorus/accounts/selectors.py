"""Reads for participants and API tokens."""
from __future__ import annotations

import functools
import uuid

from django.contrib.sessions.backends.base import SessionBase
from django.db import connection

from chorus.accounts.models import ApiToken, Participant
from chorus.accounts.services import SESSION_KEY_PREFIX, session_key_for
from chorus.accounts.tokens import token_hash


def participant_from_session(*, session: SessionBase, campaign_id: int) -> Participant | None:
    public_id = session.get(session_key_for(campaign_id))
    if not public_id:
        return None
    # With its campaign: every service a participant's request calls checks that the campaign is open.
    return Participant.objects.select_related("campaign").filter(public_id=public_id, campaign_id=campaign_id).first()


def participant_by_campaign_slug(*, session: SessionBase, slug: str) -> Participant | None:
    """The session's participant in the campaign with this slug, with its campaign, in one query; None
    if the session has not joined it. Every participant request runs this, and a request's CPU went
    mostly to the ORM building and compiling queries (bench/load.py --queries), so it is one
    hand-written query; the models are built from its row as the ORM builds them."""
    joined = {key: public_id for key, public_id in session.items() if key.startswith(SESSION_KEY_PREFIX)}
    try:
        public_ids = [uuid.UUID(public_id) for public_id in joined.values()]
    except (TypeError, ValueError):  # not a value this code wrote
        return None
    if not public_ids:
        return None
    with connection.cursor() as cursor:
        cursor.execute(_participant_by_slug_sql(), [slug, public_ids])
        row = cursor.fetchone()
    if row is None:
        return None
    split = len(Participant._meta.concrete_fields)
    participant = _model_from_row(Participant, row[:split])
    participant.campaign = _model_from_row(Participant._meta.get_field("campaign").related_model, row[split:])
    # The session names a participant per campaign: this one must be the one named for its own.
    if joined.get(session_key_for(participant.campaign_id)) != str(participant.public_id):
        return None
    return participant


@functools.cache
def _participant_by_slug_sql() -> str:
    campaign = Participant._meta.get_field("campaign")
    return "SELECT {} FROM {} p JOIN {} c ON c.{} = p.{} WHERE c.{} = %s AND p.{} = ANY(%s) LIMIT 1".format(
        ", ".join([f"p.{f.column}" for f in Participant._meta.concrete_fields]
                  + [f"c.{f.column}" for f in campaign.related_model._meta.concrete_fields]),
        Participant._meta.db_table, campaign.related_model._meta.db_table, campaign.target_field.column,
        campaign.column, campaign.related_model._meta.get_field("slug").column,
        Participant._meta.get_field("public_id").column,
    )


def _model_from_row(model, row):
    """A model instance from its concrete fields' columns, converted as the ORM converts them."""
    values = [f.from_db_value(v, None, connection) if hasattr(f, "from_db_value") else v
              for f, v in zip(model._meta.concrete_fields, row, strict=True)]
    return model.from_db(connection.alias, None, values)


def consented_participant(*, session: SessionBase, campaign_id: int) -> Participant | None:
    """The session's participant in the campaign, if they have given consent: the only one who
    may take part in its activities."""
    participant = participant_from_session(session=session, campaign_id=campaign_id)
    return participant if participant and participant.consented_at else None


def api_token_find(*, plaintext: str) -> ApiToken | None:
    return (
        ApiToken.objects.select_related("user")
        .filter(key_hash=token_hash(plaintext), revoked_at__isnull=True, user__is_active=True)
        .first()
    )


def api_tokens_for_user(*, user) -> list[ApiToken]:
    return list(ApiToken.objects.filter(user=user))


def api_token_active(*, token_id: int) -> ApiToken | None:
    """A token that is not revoked, by id (signed dataset links carry the id of the token that made them)."""
    return ApiToken.objects.select_related("user").filter(pk=token_id, revoked_at__isnull=True).first()
