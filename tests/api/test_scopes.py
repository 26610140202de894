"""Every API endpoint refuses a token without its scope: a new endpoint that names no scope fails here."""
import importlib
import pkgutil
import re

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

import chorus.api
from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create
from chorus.api.urls import PUBLIC_VIEWS

METHODS = ("get", "post", "put", "patch", "delete")


def routes(resolver=None, prefix=""):
    """Every route of the project's URLconf, wherever it is mounted, with its view."""
    for entry in (resolver or get_resolver()).url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            yield from routes(entry, route)
        elif isinstance(entry, URLPattern):
            yield route, entry.callback


def is_api_view(callback) -> bool:
    """A REST framework view, or any view from the API package (a plain Django view there is a bug too)."""
    view_class = getattr(callback, "view_class", None)
    return (isinstance(view_class, type) and issubclass(view_class, APIView)) or \
        callback.__module__.startswith("chorus.api")


ENDPOINTS = sorted(
    (route, callback) for route, callback in routes()
    if is_api_view(callback) and getattr(callback, "view_class", None) not in PUBLIC_VIEWS
)


def api_view_classes() -> set[type]:
    """Every view class the API package defines that answers some HTTP method."""
    for module in pkgutil.walk_packages(chorus.api.__path__, "chorus.api."):
        importlib.import_module(module.name)
    found, todo = set(), [APIView]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("chorus.api.") and any(getattr(cls, m, None) for m in METHODS):
            found.add(cls)
    return found - set(PUBLIC_VIEWS)


def handled_methods(callback) -> list[str]:
    return [m for m in METHODS if getattr(callback.view_class, m, None)]


def concrete(route: str) -> str:
    return "/" + re.sub(r"<(\w+):\w+>", lambda m: "1" if m[1] == "int" else "x", route)


def test_every_api_view_is_found_in_the_urlconf():
    """The list the tests below run over misses no endpoint: each API view class is routed and listed."""
    routed = {getattr(callback, "view_class", None) for _, callback in ENDPOINTS}
    missing = {f"{cls.__module__}.{cls.__qualname__}" for cls in api_view_classes() - routed}
    assert not missing, f"API views the scope tests do not reach: {sorted(missing)}"
    assert len(ENDPOINTS) >= len(api_view_classes())


@pytest.mark.parametrize("route, callback", ENDPOINTS, ids=[r for r, _ in ENDPOINTS])
def test_endpoint_declares_scopes(route, callback):
    scopes = getattr(getattr(callback, "view_class", None), "required_scopes", None)
    assert scopes, f"{route} names no required_scopes"
    assert set(scopes) <= set(Scope.values)
    assert handled_methods(callback), f"{route} answers no HTTP method"


def client_with(user, scopes) -> APIClient:
    _, plaintext = api_token_create(user=user, name="t", scopes=scopes)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client


@pytest.mark.django_db
@pytest.mark.parametrize("route, callback", ENDPOINTS, ids=[r for r, _ in ENDPOINTS])
def test_endpoint_refuses_a_token_without_its_scope(route, callback, staff_user):
    needed = set(callback.view_class.required_scopes)
    wrong = client_with(staff_user, [s for s in Scope.values if s not in needed])
    right = client_with(staff_user, sorted(needed))
    for method in handled_methods(callback):  # the methods it answers, so a 405 cannot stand in for a refusal
        refused = getattr(wrong, method)(concrete(route))
        assert refused.status_code == 403, (method, route, refused.status_code)
        assert all(scope in refused.content.decode() for scope in needed), refused.content  # refused for the scope
        # With its scopes the same request gets past the check (to a 404 for the made-up id, a 400, ...).
        assert getattr(right, method)(concrete(route)).status_code != 403, (method, route)
