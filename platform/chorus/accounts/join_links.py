"""Signed join links: `/join/<token>/` lets anyone holding the link into one campaign."""
from __future__ import annotations

from django.core import signing

SALT = "chorus.accounts.join"


class InvalidJoinLink(Exception):
    pass


def join_token_make(*, campaign_id: int) -> str:
    return signing.dumps({"campaign": campaign_id}, salt=SALT, compress=False)


def join_token_read(token: str) -> int:
    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        raise InvalidJoinLink("This join link is not valid. Ask the study team for a new one.") from None
    return int(payload["campaign"])
