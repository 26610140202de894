"""Every API endpoint refuses a token without its scope: a new endpoint that names no scope fails here."""
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from chorus.api.urls import PUBLIC_VIEWS


def api_views(resolver=None, prefix=""):
    resolver = resolver or get_resolver()
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from api_views(entry, route)
        elif isinstance(entry, URLPattern) and route.startswith(("api/", "hf/")):  # REST and Hub-compatible
            yield route, entry.callback


ENDPOINTS = sorted(
    (route, callback) for route, callback in api_views()
    if getattr(callback, "view_class", None) not in PUBLIC_VIEWS
)


def concrete(route: str) -> str:
    return "/" + re.sub(r"<(\w+):\w+>", lambda m: "1" if m[1] == "int" else "x", route)


def test_the_urlconf_has_api_endpoints():
    assert len(ENDPOINTS) >= 2


@pytest.mark.parametrize("route, callback", ENDPOINTS, ids=[r for r, _ in ENDPOINTS])
def test_endpoint_declares_scopes(route, callback):
    scopes = getattr(callback.view_class, "required_scopes", None)
    assert scopes, f"{route} names no required_scopes"
    assert set(scopes) <= set(Scope.values)


@pytest.mark.django_db
@pytest.mark.parametrize("route, callback", ENDPOINTS, ids=[r for r, _ in ENDPOINTS])
def test_endpoint_refuses_a_token_without_its_scope(route, callback, staff_user):
    needed = set(callback.view_class.required_scopes)
    other = [s for s in Scope.values if s not in needed]
    _, plaintext = api_token_create(user=staff_user, name="wrong", scopes=other)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    for method in ("get", "post", "put", "patch", "delete"):
        response = getattr(client, method)(concrete(route))
        assert response.status_code in (403, 405), (method, route, response.status_code)
    assert client.get(concrete(route)).status_code == 403
