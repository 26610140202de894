"""Peers' values and upgrade stories for a question, so voting and upgrades have something to show.

Written directly: in production deduplication (an embedder and an LLM judge) and an LLM's proposals
write these rows, and no service writes a given value or story.
"""
from elicitation.models import CanonicalCard, Context, UpgradeStory

PEER_VALUES = [
    ("Informed Autonomy", "Helping her decide with full information.", ["FACTS about each option", "CHOICES she owns", "TIME to reflect"]),
    ("Faith As Guidance", "Drawing on her faith to find her way.", ["TEACHINGS that speak to her", "PRAYERS she finds comfort in", "COMMUNITIES that support her"]),
    ("Care For Wellbeing", "Looking after her health and safety.", ["RISKS to her health", "DOCTORS she can trust", "SIGNS of distress"]),
    ("Honest Conversation", "Talking openly without judgement.", ["QUESTIONS she is afraid to ask", "FEARS she can name", "WORDS that do not judge"]),
    ("Future Possibilities", "Seeing the life she wants ahead.", ["PLANS she has for herself", "DREAMS she would give up", "PATHS still open"]),
    ("Family Support", "Finding who can stand with her.", ["PEOPLE who love her", "CONVERSATIONS with family", "HELP she can accept"]),
    ("Spiritual Peace", "Finding a decision she can live with.", ["FEELINGS of peace", "DOUBTS she carries", "VALUES she grew up with"]),
]


def seed_peer_values(question, *, stories: int = 3) -> list[CanonicalCard]:
    cards = [
        CanonicalCard.objects.create(campaign=question.campaign, question=question, title=t, description=d, policies=p)
        for t, d, p in PEER_VALUES
    ]
    context = Context.objects.create(campaign=question.campaign, text="When a person faces a choice that shapes their life")
    context.cards.add(*cards)
    for i in range(stories):
        UpgradeStory.objects.create(
            campaign=question.campaign, context=context, from_card=cards[i], to_card=cards[i + 1],
            story=f"I used to care most about {cards[i].title.lower()}. Then I saw that {cards[i + 1].title.lower()} mattered more.",
        )
    return cards
