"""Links that work without an Authorization header for an hour, for clients that cannot send one
(`datasets.load_dataset("json", data_files=URL)`, a browser). A link carries the id of the token that
asked for it and what it is for; it stops working when that token is revoked."""
from __future__ import annotations

from django.core import signing
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication

from chorus.accounts.selectors import api_token_active

LINK_MAX_AGE = 60 * 60


def link_sign(payload: dict, *, salt: str) -> str:
    return signing.dumps(payload, salt=salt)


class SignedLinkAuthentication(BaseAuthentication):
    """Accepts `?signature=` made with `salt` for this very request; subclasses say what must match."""

    salt = ""

    def refusal(self, payload: dict, request) -> str | None:
        """Why this link does not fit the request (None when it does)."""
        raise NotImplementedError

    def authenticate(self, request):
        signature = request.query_params.get("signature")
        if not signature:
            return None
        try:
            payload = signing.loads(signature, salt=self.salt, max_age=LINK_MAX_AGE)
        except signing.BadSignature:
            raise exceptions.AuthenticationFailed("This link is invalid or has expired; ask for a new one.") from None
        if why := self.refusal(payload, request):
            raise exceptions.AuthenticationFailed(why)
        token = api_token_active(token_id=payload["token"])
        if token is None:
            raise exceptions.AuthenticationFailed("The token behind this link was revoked.")
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="chorus"'
