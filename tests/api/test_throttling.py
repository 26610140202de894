"""The anonymous rate limit holds for requests refused a login: without a token, or with a bad one,
on the REST API and on the Hub-compatible routes, whatever X-Forwarded-For a client sends."""
import pytest
from django.conf import settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

LIMIT = 5
URLS = {"rest": "/api/v1/campaigns/", "hub": "/hf/api/models/chorus/some-model"}
AUTH = {"no token": {}, "bad token": {"HTTP_AUTHORIZATION": "Bearer chorus_abcdef_not-a-real-token"}}


@pytest.fixture(autouse=True)
def small_anonymous_limit(monkeypatch):
    # DRF's throttles hold this very dict (SimpleRateThrottle.THROTTLE_RATES, read at import), so an
    # override_settings would not reach them: change the entry in place, and put it back after.
    monkeypatch.setitem(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "anon", f"{LIMIT}/minute")


def spend_the_limit(url, address="192.0.2.66", **headers):
    client = APIClient()
    for i in range(LIMIT):
        response = client.get(url, REMOTE_ADDR=address, **headers)
        assert response.status_code == 401, (i, response.content)
    return client


@pytest.mark.parametrize("auth", AUTH.values(), ids=AUTH.keys())
@pytest.mark.parametrize("url", URLS.values(), ids=URLS.keys())
def test_refused_logins_count_against_the_anonymous_limit(url, auth):
    client = spend_the_limit(url, **auth)

    response = client.get(url, REMOTE_ADDR="192.0.2.66", **auth)

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 61  # within the one-minute window (the Hub routes round up)
    body = response.json()
    message = body["error"] if url == URLS["hub"] else body["error"]["message"]  # each route's own error shape
    assert "throttled" in message


def test_a_new_x_forwarded_for_each_time_does_not_reset_the_count():
    client = APIClient()
    statuses = [client.get(URLS["rest"], REMOTE_ADDR="192.0.2.66", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}").status_code
                for i in range(LIMIT + 1)]
    assert statuses == [401] * LIMIT + [429]


def test_other_addresses_and_valid_tokens_are_unaffected(api):
    spend_the_limit(URLS["rest"])

    assert APIClient().get(URLS["rest"], REMOTE_ADDR="198.51.100.7").status_code == 401
    assert api.get(URLS["rest"], REMOTE_ADDR="192.0.2.66").status_code == 200  # the per-token limit applies
