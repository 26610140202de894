"""Editing a campaign after creation: what participants answered stays as they answered it."""
import pytest
from django.core.exceptions import ValidationError

from elicitation.services.campaigns import QuestionEdit, campaign_update
from tests.factories import CampaignFactory, make_participant, make_system_message, make_values_card

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    campaign = CampaignFactory(questions=["Answered?", "Not answered?"], activities=["interview", "comparisons"])
    make_values_card(make_participant(campaign), title="Honest Answers", description="Honesty.",
                     policies=["FACTS she needs", "RISKS nobody named", "CHOICES she owns"],
                     question=campaign.questions.first())
    return campaign


def update(campaign, *, edits=(), new=(), activities=("interview", "comparisons"), title=None):
    return campaign_update(campaign=campaign, title=title or campaign.title, description="", questions=list(edits),
                           new_questions=list(new), activities=list(activities))


def test_unanswered_questions_change_and_new_ones_go_last(campaign):
    answered, open_one = campaign.questions.all()
    update(campaign, edits=[QuestionEdit(open_one.pk, "Reworded?")], new=["Third?", "  "], title="Renamed")
    campaign.refresh_from_db()
    assert campaign.title == "Renamed"
    assert [q.text for q in campaign.questions.all()] == ["Answered?", "Reworded?", "Third?"]
    update(campaign, edits=[QuestionEdit(open_one.pk, "Reworded?", remove=True)])
    assert [q.text for q in campaign.questions.all()] == ["Answered?", "Third?"]


@pytest.mark.parametrize("edit", [QuestionEdit(0, "Reworded?"), QuestionEdit(0, "Answered?", remove=True)])
def test_an_answered_question_keeps_its_wording_and_place(campaign, edit):
    answered = campaign.questions.first()
    with pytest.raises(ValidationError) as exc:
        update(campaign, edits=[QuestionEdit(answered.pk, edit.text, edit.remove)], new=["Added?"], title="Renamed")
    assert "keeps its wording" in exc.value.message_dict[f"question-{answered.pk}"][0]
    campaign.refresh_from_db()
    assert campaign.title != "Renamed" and campaign.questions.count() == 2  # nothing half-written


def test_an_activity_with_contributions_stays_on(campaign):
    with pytest.raises(ValidationError, match="already taken part in Values interview"):
        update(campaign, activities=["comparisons"])
    make_system_message(make_participant(campaign))
    with pytest.raises(ValidationError, match="Response comparisons"):
        update(campaign, activities=["interview"])
    update(campaign, activities=["interview", "comparisons", "voting"])
    campaign.refresh_from_db()
    assert campaign.activities == ["interview", "comparisons", "voting"]


def test_bad_edits_are_refused_by_field(campaign):
    _, open_one = campaign.questions.all()
    with pytest.raises(ValidationError) as exc:
        campaign_update(campaign=campaign, title=" ", description="", activities=["bogus"], new_questions=[],
                        questions=[QuestionEdit(open_one.pk, "   ")])
    assert {"title", "activities", f"question-{open_one.pk}"} <= set(exc.value.message_dict)


def test_a_campaign_keeps_a_question():
    campaign = CampaignFactory(questions=["Only?"])
    only = campaign.questions.get()
    with pytest.raises(ValidationError, match="at least one question"):
        update(campaign, edits=[QuestionEdit(only.pk, "Only?", remove=True)], activities=[])
