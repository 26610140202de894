"""DRF authentication by bearer token, and a permission that requires each view to declare scopes.

A view without `required_scopes` refuses every request, so a new endpoint cannot be left open by
accident (tests/api/test_scopes.py walks the URLconf to prove it).
"""
from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission

from chorus.accounts.selectors import api_token_find
from chorus.accounts.services import api_token_touch


class ApiTokenAuthentication(BaseAuthentication):
    keyword = b"bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header or header[0].lower() not in (self.keyword, b"token"):
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Authorization header must be: Bearer <token>.")
        token = api_token_find(plaintext=header[1].decode("latin-1"))
        if token is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked token.")
        api_token_touch(token=token)
        return token.user, token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="chorus"'


class HasScopes(BasePermission):
    """Grants access when the token carries every scope the view names in `required_scopes`."""

    message = "This token lacks the scope this endpoint needs."

    def has_permission(self, request, view) -> bool:
        required = getattr(view, "required_scopes", None)
        if not required:
            return False
        token = request.auth
        if token is None or not hasattr(token, "scopes"):
            return False
        missing = set(required) - set(token.scopes)
        if missing:
            self.message = f"This token lacks the scope(s): {', '.join(sorted(missing))}."
            return False
        return True
