"""A refused promotion keeps the principle name the curator typed, with the reason beside it."""
import pytest

from elicitation.services import statements as statement_svc
from tests.factories import CampaignFactory, make_participant

pytestmark = pytest.mark.django_db


def test_a_refused_promotion_shows_the_name_as_typed(client, staff_user):
    campaign = CampaignFactory(activities=["principles"])
    statement = statement_svc.statement_submit(participant=make_participant(campaign), text="Admit what you do not know.")
    statement_svc.statement_promote(statement=statement, name="Admit Uncertainty")
    client.force_login(staff_user)
    response = client.post(f"/dashboard/statements/{statement.pk}/promote/", {"name": "Say <when> unsure"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'value="Say &lt;when&gt; unsure"' in html and "is a principle already" in html
    assert 'id="statement-groups"' in html  # the whole page, polling as before
