"""What a policy is (docs/elicitation.md, "Card rules"), and that saving a card enforces it in the service."""
import re

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from chorus.accounts.join_links import join_token_make
from chorus.accounts.models import Participant
from elicitation.domain.values import card_clean, policy_problem
from elicitation.models import Interview, ValuesCard
from elicitation.services import interviews as svc
from tests.factories import CampaignFactory

GOOD = ["FACTS she needs that nobody has told her yet", "MOMENTS where she feels pressure from others"]


@pytest.mark.parametrize("policy", [
    "SUPPORTERS, religious or not, who let her decide",
    "CHANCES for her to weigh each option; not a lecture",
    "SELF-DOUBTS she can name out loud",
    "DOCTORS at the NHS who explain the options",
    "FEARS: the ones she does not say",
])
def test_ordinary_punctuation_and_acronyms_are_accepted(policy):
    assert policy_problem(policy) == ""


@pytest.mark.parametrize("policy, says", [
    ("I'M SO SORRY TO HEAR", "plural noun in capitals"),
    ("SORRY to hear that", "does not name something you pay attention to"),
    ("THE moments she chose", "does not name something you pay attention to"),
    ("MOMENTS WHEN SHE FEELS ALONE", "Only the first word goes in capitals"),
    ("moments when she feels alone", "plural noun in capitals"),
    ("MOMENTS", "plural noun in capitals"),
])
def test_lines_that_are_not_attention_policies_are_refused_with_the_reason(policy, says):
    assert says in policy_problem(policy)


def test_the_same_policy_twice_is_refused_whatever_its_case_or_spacing():
    with pytest.raises(ValidationError) as exc:
        card_clean(title="Her Own Choice", description="Letting her decide.",
                   policies=[*GOOD, "facts  she needs that nobody has told her yet."])
    assert "appears twice" in exc.value.message_dict["policies"][0]


def _drafted(participant):
    interview = svc.interview_start(participant=participant, question=participant.campaign.questions.get())
    svc.interview_message_add(interview=interview, text="A story.")
    svc.interview_draft(interview=interview)
    interview.refresh_from_db()
    return interview


@pytest.mark.django_db
def test_confirm_saves_the_card_as_edited_on_screen(participant, scripted_llm):
    interview = _drafted(participant)
    policies = ["SUPPORTERS, religious or not, who let her decide", *GOOD]
    card = svc.interview_confirm(interview=interview, draft_version=svc.draft_version_of(interview.draft),
                                 title="Her Own Choice", description="Letting her decide.", policies=policies)
    assert (card.title, card.policies) == ("Her Own Choice", policies)
    assert Interview.objects.get().draft["title"] == "Her Own Choice"  # the draft is what was confirmed


@pytest.mark.django_db
@pytest.mark.parametrize("policies", [
    ["I'M SO SORRY TO HEAR", *GOOD],
    [GOOD[0], GOOD[0], GOOD[1]],
])
def test_confirm_refuses_a_card_that_breaks_the_rules_and_saves_nothing(participant, scripted_llm, policies):
    interview = _drafted(participant)
    before = interview.draft
    with pytest.raises(ValidationError) as exc:
        svc.interview_confirm(interview=interview, draft_version=svc.draft_version_of(before),
                              title="Her Own Choice", description="Letting her decide.", policies=policies)
    assert list(exc.value.message_dict) == ["policies"]
    assert not ValuesCard.objects.exists()
    assert Interview.objects.get().draft == before and Interview.objects.get().status == Interview.Status.REVIEWING


@pytest.mark.django_db
def test_the_save_button_posts_the_fields_and_a_bad_line_is_a_400_naming_the_field(client, scripted_llm):
    campaign = CampaignFactory()
    client.post(f"/join/{join_token_make(campaign_id=campaign.pk)}/", {"consent": "yes"})
    question = campaign.questions.get()
    interview = svc.interview_start(participant=Participant.objects.get(),
                                    question=question)
    svc.interview_message_add(interview=interview, text="A story.")
    svc.interview_draft(interview=interview)
    interview.refresh_from_db()
    url = reverse("elicitation:interview_card", args=[campaign.slug, question.pk])
    post = {"action": "confirm", "draft_version": svc.draft_version_of(interview.draft), "title": "Her Own Choice",
            "description": "Letting her decide.", "policies": "I'M SO SORRY TO HEAR\n" + "\n".join(GOOD)}

    refused = client.post(url, post, HTTP_HX_REQUEST="true")
    assert refused.status_code == 400
    html = refused.content.decode()
    assert 'id="card-policies-error"' in html and "I&#x27;M SO SORRY TO HEAR" in html  # under the field, kept
    assert re.search(r'id="confirm-card"[^>]*disabled', html)
    assert not ValuesCard.objects.exists()

    saved = client.post(url, {**post, "policies": "SUPPORTERS, religious or not, who listen\n" + "\n".join(GOOD)},
                        HTTP_HX_REQUEST="true")
    assert saved.status_code == 200 and saved.headers["HX-Redirect"]
    assert ValuesCard.objects.get().policies[0] == "SUPPORTERS, religious or not, who listen"
