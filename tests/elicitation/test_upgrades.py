"""The LLM proposes one upgrade story per pair of values sharing a context."""
import pytest

from elicitation.models import CanonicalCard, UpgradeStory
from elicitation.services.moral_graph import upgrade_stories_propose
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db


def test_one_story_per_pair_and_context_and_reruns_add_none(participant, scripted_llm):
    cards = seed_peer_values(participant.campaign.questions.get(), stories=0)
    made = upgrade_stories_propose(campaign=participant.campaign).made
    assert made == len(cards) * (len(cards) - 1) // 2 == UpgradeStory.objects.count()
    assert upgrade_stories_propose(campaign=participant.campaign).made == 0
    story = UpgradeStory.objects.first()
    assert story.from_card_id != story.to_card_id and story.story.startswith("I used to")
    sent = scripted_llm.calls[0]["messages"][1]["content"]
    assert sent.count("<participant>") == 2  # both cards' text is delimited


def test_limit_is_respected(participant, scripted_llm):
    seed_peer_values(participant.campaign.questions.get(), stories=0)
    assert upgrade_stories_propose(campaign=participant.campaign, limit=4).made == 4
    assert CanonicalCard.objects.count() == 7
