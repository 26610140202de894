"""Curators' merge and split: no value is left empty and visible, and a split never duplicates a value."""
import numpy as np
import pytest
from django.core.exceptions import ValidationError

from elicitation.models import CanonicalCard, ValuesCard
from elicitation.selectors.values import canonical_list, question_values, values_picked_by
from elicitation.services import values as svc
from tests.factories import CampaignFactory, make_participant, make_values_card

pytestmark = pytest.mark.django_db

POLICIES = {
    "Honest Answers": ["FACTS she has not heard yet", "RISKS nobody has named", "CHOICES that are hers to make"],
    "Faith As Guidance": ["TEACHINGS that speak to her", "PRAYERS she finds comfort in", "COMMUNITIES that hold her"],
    "Family Support": ["PEOPLE who love her", "CONVERSATIONS with family", "HELP she can accept"],
}


@pytest.fixture(autouse=True)
def quick_embeddings(monkeypatch):
    """Any unit vector will do here: these tests are about where cards go, not how near they are."""
    monkeypatch.setattr(svc, "embed_policies", lambda lists: np.full((len(lists), 384), 384 ** -0.5, dtype=np.float32))


@pytest.fixture
def question():
    return CampaignFactory(questions=["What should the assistant consider?"]).questions.get()


def card(question, title: str) -> ValuesCard:
    return make_values_card(make_participant(question.campaign), title=title, description=f"{title}, in a sentence.",
                            policies=POLICIES[title], question=question)


def own_value(question, title: str) -> tuple[ValuesCard, CanonicalCard]:
    """A participant's card and the value made from it (worded as the card), as deduplication makes one."""
    made = card(question, title)
    return made, svc.card_move(card=made, canonical=None)


def visible(question) -> list[str]:
    (section,) = question_values(questions=[question])
    return sorted(row.canonical.title for row in section.values)


def test_merge_then_split_leaves_no_ghost_and_no_duplicate(question):
    """The issue's case: #7's only card merged into #3, then split off again."""
    honest, value_7 = own_value(question, "Honest Answers")
    _, value_3 = own_value(question, "Faith As Guidance")

    assert svc.card_move(card=honest, canonical=value_3) == value_3
    value_7.refresh_from_db()
    assert value_7.merged_into == value_3
    assert visible(question) == ["Faith As Guidance"]
    assert value_7.pk not in set(canonical_list(campaign=question.campaign_id).values_list("pk", flat=True))
    (section,) = question_values(questions=[question])
    assert all(value_7.pk != other.pk for row in section.values for other, _ in row.merge_choices)
    with pytest.raises(ValidationError, match="merged into another one"):
        svc.card_move(card=card(question, "Family Support"), canonical=value_7)

    assert svc.card_move(card=honest, canonical=None) == value_7  # brought back, not made again
    value_7.refresh_from_db()
    assert value_7.merged_into is None and list(value_7.cards.all()) == [honest]
    assert visible(question) == ["Faith As Guidance", "Honest Answers"]
    assert CanonicalCard.objects.filter(title="Honest Answers").count() == 1


def test_splitting_the_card_a_value_is_worded_as_keeps_it_there_and_moves_the_others(question):
    honest, value = own_value(question, "Honest Answers")
    faith = card(question, "Faith As Guidance")
    svc.card_move(card=faith, canonical=value)

    assert svc.card_move(card=honest, canonical=None) == value  # the votes on these words stay with them
    faith.refresh_from_db()
    assert list(value.cards.all()) == [honest]
    assert faith.canonical != value and faith.canonical.title == "Faith As Guidance"
    assert visible(question) == ["Faith As Guidance", "Honest Answers"]


def test_splitting_a_card_worded_otherwise_makes_a_value_of_its_own(question):
    honest, value = own_value(question, "Honest Answers")
    faith = card(question, "Faith As Guidance")
    svc.card_move(card=faith, canonical=value)

    split = svc.card_move(card=faith, canonical=None)
    assert split != value and split.title == "Faith As Guidance" and list(split.cards.all()) == [faith]
    assert list(value.cards.all()) == [honest] and value.merged_into is None


def test_an_imported_value_that_loses_a_card_stays(question):
    imported = CanonicalCard.objects.create(campaign=question.campaign, question=question, title="Imported",
                                            description="From a study.", policies=["THINGS to see"], external_id="x1")
    honest, _ = own_value(question, "Honest Answers")
    svc.card_move(card=honest, canonical=imported)
    _, other = own_value(question, "Family Support")
    svc.card_move(card=honest, canonical=other)
    imported.refresh_from_db()
    assert imported.merged_into is None and "Imported" in visible(question)


def test_a_repeated_merge_from_an_old_page_changes_nothing(question):
    honest, _ = own_value(question, "Honest Answers")
    _, faith_value = own_value(question, "Faith As Guidance")
    old_page = ValuesCard.objects.select_related("question").get(pk=honest.pk)  # loaded before the merge
    svc.card_move(card=honest, canonical=faith_value)
    with pytest.raises(ValidationError, match="already part of that value"):
        svc.card_move(card=old_page, canonical=faith_value)
    assert visible(question) == ["Faith As Guidance"]


def test_a_retired_value_leaves_new_voting_draws(question):
    honest, value = own_value(question, "Honest Answers")
    _, faith_value = own_value(question, "Faith As Guidance")
    svc.card_move(card=honest, canonical=faith_value)
    voter = make_participant(question.campaign)
    assert value not in svc.voting_draw(participant=voter, question=question)


def test_picks_are_remembered(question):
    for title in POLICIES:
        own_value(question, title)
    voter = make_participant(question.campaign)
    drawn = svc.voting_draw(participant=voter, question=question)
    assert values_picked_by(participant=voter, question=question) == set()
    svc.votes_submit(participant=voter, question=question, picked_ids=[drawn[0].pk, drawn[2].pk])
    assert values_picked_by(participant=voter, question=question) == {drawn[0].pk, drawn[2].pk}
    assert svc.voting_draw(participant=voter, question=question) == drawn  # the same cards, in the same places
