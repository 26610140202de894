"""The curator's values page: values with their cards, split and merge, and what it refuses."""
import pytest

from elicitation.models import BorderlinePair, CanonicalCard, JudgeCalibration, ValuesCard
from elicitation.services import interviews
from elicitation.services.values import card_deduplicate
from tests.factories import CampaignFactory, make_participant
from tests.support.judges import PairJudge, calibrate_with
from tests.support.scripted_llm import CARD

pytestmark = [pytest.mark.django_db, pytest.mark.slow]  # the real embedder places the cards

REWORDED = {
    "title": "Deciding For Herself",
    "description": "Letting her make up her own mind, knowing what she needs to know.",
    "policies": ["INFORMATION she needs that no one has given her yet", "SITUATIONS where others are pressuring her",
                 "CHANCES for her to consider every option in her own way"],
}
UNRELATED = {
    "title": "Faith <script>alert(1)</script>",
    "description": "Drawing on her religious tradition for guidance.",
    "policies": ["TRADITIONS of her faith that give her guidance", "PRAYERS that help her find peace",
                 "COMMUNITY members who share her beliefs"],
}


def placed_card(question, card: dict) -> ValuesCard:
    """A participant confirms the card, and deduplication places it (the judge is scripted)."""
    participant = make_participant(question.campaign)
    interview = interviews.interview_start(participant=participant, question=question)
    interviews.interview_message_add(interview=interview, text="It happened to my sister.")
    interviews.interview_draft(interview=interview)
    interviews.interview_edit(interview=interview, **card)
    interview.refresh_from_db()
    saved = interviews.interview_confirm(interview=interview, draft_version=interviews.draft_version_of(interview.draft))
    card_deduplicate(card=saved)
    saved.refresh_from_db()
    return saved


@pytest.fixture
def values(participant, scripted_llm, monkeypatch):
    """One question: value A holds CARD and REWORDED (joined by the judge); value B holds UNRELATED."""
    calibrate_with(monkeypatch, PairJudge(knows=True), then=scripted_llm)  # judge mode
    scripted_llm.same_value = True
    question = participant.campaign.questions.get()
    first, reworded, unrelated = (placed_card(question, c) for c in (CARD, REWORDED, UNRELATED))
    assert first.canonical == reworded.canonical != unrelated.canonical
    return {"campaign": question.campaign, "first": first, "reworded": reworded, "unrelated": unrelated}


def url(campaign, card=None, action=""):
    base = f"/dashboard/campaigns/{campaign.pk}/values/"
    return f"{base}cards/{card.pk}/{action}/" if card else base


def test_only_staff_get_in(client, django_user_model, values):
    campaign, card = values["campaign"], values["reworded"]
    assert client.get(url(campaign))["Location"].startswith("/login/")
    client.force_login(django_user_model.objects.create_user(username="p", password="pw-123456-x"))
    assert client.get(url(campaign))["Location"].startswith("/login/")
    assert client.post(url(campaign, card, "split"))["Location"].startswith("/login/")
    assert CanonicalCard.objects.count() == 2


def test_empty_state(client, staff_user):
    client.force_login(staff_user)
    body = client.get(url(CampaignFactory())).content.decode()
    assert "No values yet" in body


def test_page_shows_values_with_their_cards_and_nearest_neighbour(client, staff_user, values):
    client.force_login(staff_user)
    body = client.get(url(values["campaign"])).content.decode()
    first, reworded = values["first"], values["reworded"]
    assert body.count('class="values-card"') == 2
    value_a = body[body.index(f'id="value-{first.canonical_id}"'):body.index(f'id="value-{values["unrelated"].canonical_id}"')]
    assert CARD["title"] in value_a and REWORDED["title"] in value_a and REWORDED["policies"][0] in value_a
    assert "embedding + judge" in value_a and f"distance {reworded.dedup_distance:.2f}" in value_a
    assert "new value" in value_a
    assert "Nearest other value" in body and f'href="#value-{values["unrelated"].canonical_id}"' in value_a
    assert "<script>alert(1)" not in body and "&lt;script&gt;alert(1)" in body


def test_page_queries_do_not_grow_with_values_and_cards(client, staff_user, values, scripted_llm,
                                                        django_assert_max_num_queries):
    client.force_login(staff_user)
    with django_assert_max_num_queries(8):  # 6, and deduplication's mode and borderline pairs
        client.get(url(values["campaign"]))
    question = values["campaign"].questions.create(text="A second question?", position=1)
    scripted_llm.same_value = False
    for card in (CARD, REWORDED, UNRELATED, CARD):
        placed_card(question, card)
    with django_assert_max_num_queries(8):
        body = client.get(url(values["campaign"])).content.decode()
    assert body.count('class="values-card"') == 6


def test_split_makes_a_new_value_and_says_so(client, staff_user, values):
    client.force_login(staff_user)
    card = values["reworded"]
    response = client.post(url(values["campaign"], card, "split"), follow=True)
    card.refresh_from_db()
    assert card.canonical not in (values["first"].canonical, values["unrelated"].canonical)
    assert card.dedup_method == "curator" and CanonicalCard.objects.count() == 3
    assert response.redirect_chain[-1][0].endswith(f"/values/#question-{card.question_id}")
    assert f"“{REWORDED['title']}” is now a value of its own." in response.content.decode()


def test_merge_over_htmx_moves_the_card_and_returns_the_question(client, staff_user, values):
    client.force_login(staff_user)
    card, target = values["unrelated"], values["first"].canonical
    response = client.post(url(values["campaign"], card, "merge"), {"canonical": target.pk}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and "HX-Request" in response["Vary"]
    card.refresh_from_db()
    assert card.canonical == target and card.dedup_method == "curator"
    body = response.content.decode()
    assert f'id="question-{card.question_id}"' in body and "<html" not in body
    assert f"is now part of the value “{target.title}”" in body
    assert body.count('class="values-card"') == 1  # B lost its only card: retired, not listed empty
    assert "No participant's card is in this value now." not in body


def test_split_of_a_card_alone_in_its_value_is_refused(client, staff_user, values):
    client.force_login(staff_user)
    card = values["unrelated"]
    response = client.post(url(values["campaign"], card, "split"), HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "already a value of its own" in response.content.decode()
    assert CanonicalCard.objects.count() == 2


def test_merge_into_another_campaigns_value_is_refused(client, staff_user, values, scripted_llm):
    elsewhere = placed_card(CampaignFactory(questions=["Elsewhere?"]).questions.get(), UNRELATED).canonical
    client.force_login(staff_user)
    card = values["reworded"]
    response = client.post(url(values["campaign"], card, "merge"), {"canonical": elsewhere.pk}, follow=True)
    assert "A card can only join a value of its own campaign." in response.content.decode()
    card.refresh_from_db()
    assert card.canonical == values["first"].canonical and card.dedup_method == "judge"
    assert elsewhere.cards.count() == 1


@pytest.mark.parametrize("chosen", ["", "abc", "999999"])
def test_merge_without_a_real_value_is_refused(client, staff_user, values, chosen):
    client.force_login(staff_user)
    card = values["reworded"]
    response = client.post(url(values["campaign"], card, "merge"), {"canonical": chosen}, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "Choose a value" in response.content.decode()
    card.refresh_from_db()
    assert card.canonical == values["first"].canonical


def test_a_card_of_another_campaign_is_not_found(client, staff_user, values):
    client.force_login(staff_user)
    other = CampaignFactory()
    assert client.post(url(other, values["reworded"], "split")).status_code == 404
    assert CanonicalCard.objects.count() == 2


def test_unplaced_card_is_listed_and_can_be_placed(client, staff_user, values):
    question = values["campaign"].questions.get()
    participant = make_participant(values["campaign"])
    interview = interviews.interview_start(participant=participant, question=question)
    interviews.interview_message_add(interview=interview, text="Waiting.")
    interviews.interview_draft(interview=interview)
    interview.refresh_from_db()
    pending = interviews.interview_confirm(interview=interview, draft_version=interviews.draft_version_of(interview.draft))
    client.force_login(staff_user)
    body = client.get(url(values["campaign"])).content.decode()
    assert "Not yet placed" in body and f'id="card-{pending.pk}"' in body
    client.post(url(values["campaign"], pending, "merge"), {"canonical": values["first"].canonical_id})
    pending.refresh_from_db()
    assert pending.canonical == values["first"].canonical


# Deduplication's mode and the borderline pairs -----------------------------------------------------

def test_the_page_says_the_judge_decides_once_it_calibrated_better_than_chance(client, staff_user, values):
    client.force_login(staff_user)
    body = client.get(url(values["campaign"])).content.decode()
    mode = body[body.index('id="dedup-mode"'):body.index('id="borderline"')]
    assert 'data-mode="judge"' in mode and "Judge mode" in mode
    assert "100 of 100 labelled pairs" in mode and "accuracy 1.00" in mode
    assert "local:smollm2-135m-instruct" in mode and "Calibrate the judge again" in mode


def test_the_page_says_embedding_only_while_the_judge_is_uncalibrated_or_at_chance(client, staff_user, monkeypatch,
                                                                                   scripted_llm):
    campaign = CampaignFactory()
    client.force_login(staff_user)
    body = client.get(url(campaign)).content.decode()
    assert 'data-mode="embedding"' in body and "has not been calibrated yet" in body
    assert ">Calibrate the judge<" in body
    calibration = calibrate_with(monkeypatch, PairJudge(knows=False), then=scripted_llm)
    body = client.get(url(campaign)).content.decode()
    assert 'data-mode="embedding"' in body and "The judge is at chance" in body
    assert f"{calibration.correct} of 100 labelled pairs right" in body


def test_calibrate_queues_a_calibration_and_the_section_shows_it(client, staff_user, monkeypatch,
                                                                 django_capture_on_commit_callbacks):
    import chorus.dispatch

    sent = []
    monkeypatch.setattr(chorus.dispatch, "dispatch", lambda name, *args, **kw: sent.append(name))
    campaign = CampaignFactory()
    client.force_login(staff_user)
    calibrate = f"{url(campaign)}calibrate-judge/"
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(calibrate, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200 and "<html" not in body and sent == ["elicitation.tasks.judge_calibrate"]
    assert "Calibration queued" in body and 'hx-trigger="every 3s"' in body and "Calibrate the judge" not in body
    response = client.post(calibrate, HTTP_HX_REQUEST="true")
    assert response.status_code == 400 and "already queued or running" in response.content.decode()
    assert JudgeCalibration.objects.count() == 1
    polled = client.get(f"{url(campaign)}dedup-mode/").content.decode()
    assert "Calibration queued" in polled and "<html" not in polled


@pytest.fixture
def borderline(participant, scripted_llm, monkeypatch):
    """Embedding-only mode (the judge at chance): REWORDED waits beside CARD's value for a curator."""
    calibrate_with(monkeypatch, PairJudge(knows=False), then=scripted_llm)
    question = participant.campaign.questions.get()
    first, reworded = placed_card(question, CARD), placed_card(question, REWORDED)
    return {"campaign": question.campaign, "first": first, "reworded": reworded, "pair": BorderlinePair.objects.get()}


def test_borderline_pairs_are_listed_with_both_cards(client, staff_user, borderline):
    client.force_login(staff_user)
    body = client.get(url(borderline["campaign"])).content.decode()
    section = body[body.index('id="borderline"'):]
    row = section[section.index(f'id="pair-{borderline["pair"].pk}"'):]
    assert REWORDED["title"] in row and CARD["title"] in row and REWORDED["policies"][0] in row
    assert f"{borderline['pair'].distance:.2f}" in row and ">Merge<" in row and ">Keep apart<" in row


@pytest.mark.parametrize("decision", ["merge", "keep_apart"])
def test_a_curators_decision_is_applied_and_said(client, staff_user, borderline, decision):
    client.force_login(staff_user)
    pair, card = borderline["pair"], borderline["reworded"]
    response = client.post(f"{url(borderline['campaign'])}borderline/{pair.pk}/", {"decision": decision}, follow=True)
    body = response.content.decode()
    card.refresh_from_db()
    pair.refresh_from_db()
    if decision == "merge":
        assert card.canonical == borderline["first"].canonical and pair.status == "merged"
        assert f"is now part of the value “{CARD['title']}”" in body
    else:
        assert card.canonical != borderline["first"].canonical and pair.status == "kept_apart"
        assert "are kept apart" in body
    assert "No pairs wait for you." in body


@pytest.mark.parametrize("decision", ["", "merge it", "split"])
def test_a_decision_that_is_neither_is_refused(client, staff_user, borderline, decision):
    client.force_login(staff_user)
    pair = borderline["pair"]
    body = client.post(f"{url(borderline['campaign'])}borderline/{pair.pk}/", {"decision": decision},
                       follow=True).content.decode()
    pair.refresh_from_db()
    assert pair.status == "pending" and "Choose to merge the card into the value or to keep them apart." in body


def test_a_pair_of_another_campaign_is_not_found(client, staff_user, borderline):
    client.force_login(staff_user)
    response = client.post(f"{url(CampaignFactory())}borderline/{borderline['pair'].pk}/", {"decision": "merge"})
    assert response.status_code == 404
    borderline["pair"].refresh_from_db()
    assert borderline["pair"].status == "pending"
