"""API tokens: shown once, stored hashed, scoped, revocable."""
import hashlib

import pytest
from django.core.exceptions import ValidationError
from rest_framework.test import APIClient

from chorus.accounts.models import ApiToken, Scope
from chorus.accounts.services import api_token_create, api_token_revoke
from elicitation.services.campaigns import campaign_create

pytestmark = pytest.mark.django_db


def client_with(token: str | None) -> APIClient:
    client = APIClient()
    if token:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_token_is_stored_only_as_a_hash(staff_user):
    token, plaintext = api_token_create(user=staff_user, name="ci", scopes=[Scope.READ_DATA])
    assert plaintext.startswith(f"chorus_{token.prefix}_")
    row = ApiToken.objects.get(pk=token.pk)
    assert row.key_hash == hashlib.sha256(plaintext.encode()).hexdigest()
    assert plaintext not in str(ApiToken.objects.values().get(pk=token.pk))


@pytest.mark.parametrize(
    "name, scopes, field",
    [("", [Scope.READ_DATA], "name"), ("x" * 101, [Scope.READ_DATA], "name"), ("ok", [], "scopes"),
     ("ok", ["write:everything"], "scopes")],
)
def test_bad_token_requests_are_refused_with_field_errors(staff_user, name, scopes, field):
    with pytest.raises(ValidationError) as exc:
        api_token_create(user=staff_user, name=name, scopes=scopes)
    assert field in exc.value.message_dict
    assert not ApiToken.objects.exists()


def test_scopes_are_enforced(staff_user):
    campaign_create(title="Study", questions=["Why?"])
    _, reader = api_token_create(user=staff_user, name="reader", scopes=[Scope.READ_DATA])
    _, runner = api_token_create(user=staff_user, name="runner", scopes=[Scope.WRITE_RUNS])

    assert client_with(None).get("/api/v1/campaigns/").status_code == 401
    assert client_with("chorus_nope_nope").get("/api/v1/campaigns/").status_code == 401
    forbidden = client_with(runner).get("/api/v1/campaigns/")
    assert forbidden.status_code == 403
    assert "read:data" in forbidden.json()["error"]["message"]
    assert forbidden.json()["error"]["status"] == 403
    allowed = client_with(reader).get("/api/v1/campaigns/")
    assert allowed.status_code == 200
    assert [c["title"] for c in allowed.json()["results"]] == ["Study"]


def test_revoked_token_stops_working(staff_user):
    token, plaintext = api_token_create(user=staff_user, name="old", scopes=[Scope.READ_DATA])
    assert client_with(plaintext).get("/api/v1/campaigns/").status_code == 200
    api_token_revoke(token=token)
    assert client_with(plaintext).get("/api/v1/campaigns/").status_code == 401


def test_token_of_a_deactivated_user_stops_working(staff_user):
    _, plaintext = api_token_create(user=staff_user, name="t", scopes=[Scope.READ_DATA])
    staff_user.is_active = False
    staff_user.save(update_fields=["is_active"])
    assert client_with(plaintext).get("/api/v1/campaigns/").status_code == 401


def test_use_is_recorded(staff_user):
    token, plaintext = api_token_create(user=staff_user, name="t", scopes=[Scope.READ_DATA])
    client_with(plaintext).get("/api/v1/campaigns/")
    token.refresh_from_db()
    assert token.last_used_at is not None
