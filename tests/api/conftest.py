import pytest
from rest_framework.test import APIClient

from chorus.accounts.models import Scope
from chorus.accounts.services import api_token_create


@pytest.fixture
def api(staff_user):
    """An API client holding a read:data token."""
    _, plaintext = api_token_create(user=staff_user, name="tests", scopes=[Scope.READ_DATA])
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    client.token = plaintext
    return client
