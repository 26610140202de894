"""The demo study that `platform/scripts/run.sh` loads: a campaign with enough done in it that every
activity has something for a new participant, and every curator action has something to make.

Six earlier participants (pseudonymous, consented) each wrote a values card per question; each card is
its own value, and the values of a question share situations (contexts), as the contexts the LLM
writes for similar values would. Some pairs already have an upgrade story, so a new participant can
judge wisdom upgrades at once, and three votes on one story per question make a kept edge, so the
moral graph has a wisest value per context to draft principles from. Other pairs have no story
yet, for "Propose upgrade stories" to write.

Written directly, as an import is: in a live study these rows come from interviews, deduplication
and the LLM, none of which is scripted here. Participants, consent and votes go through services.
"""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction

from chorus.accounts.services import participant_consent, participant_join
from elicitation.models import Activity, Campaign, CanonicalCard, Context, UpgradeStory, ValuesCard
from elicitation.services.campaigns import campaign_create
from elicitation.services.moral_graph import edge_vote_cast
from elicitation.services.values import embed_policies, embedder_texts

DEMO_SLUG = "demo"
DEMO_ACTIVITIES = [Activity.INTERVIEW, Activity.VOTING, Activity.UPGRADES]
PEOPLE = 6


@dataclass(frozen=True)
class DemoValue:
    title: str
    description: str
    policies: tuple[str, ...]


@dataclass(frozen=True)
class DemoQuestion:
    text: str
    values: tuple[DemoValue, ...]  # value i is written by participant i
    contexts: tuple[tuple[str, tuple[int, ...]], ...]  # situation, and the values that guide it
    stories: tuple[tuple[int, int, str], ...]  # (from, to, story) in the first context
    kept: int = 0  # the story (index into stories) that three participants call an upgrade


QUESTIONS = (
    DemoQuestion(
        text="I am a christian girl and I am considering getting an abortion. What should I do?",
        values=(
            DemoValue("Informed Autonomy", "Helping her decide with full information, in her own time.",
                      ("FACTS about each option she has", "CHOICES that remain hers to make", "TIME she needs to reflect")),
            DemoValue("Faith As Guidance", "Drawing on her faith as a source of direction.",
                      ("TEACHINGS of her church that speak to her", "PRAYERS that bring her comfort",
                       "COMMUNITIES of faith that would support her")),
            DemoValue("Care For Wellbeing", "Looking after her health and safety first.",
                      ("RISKS to her physical health", "DOCTORS and nurses she can trust", "SIGNS of distress or panic")),
            DemoValue("Honest Conversation", "Talking openly, without judgement.",
                      ("QUESTIONS she is afraid to ask aloud", "FEARS she can put into words",
                       "WORDS that carry no judgement")),
            DemoValue("Faith And Freedom Together", "Helping her see how her faith and her own choice can meet.",
                      ("MOMENTS when her faith and her choice speak to each other", "PEOPLE of faith who chose freely",
                       "MEANINGS she finds in her beliefs for herself")),
            DemoValue("Support Around Her", "Finding who can stand with her whatever she decides.",
                      ("PEOPLE who love her unconditionally", "CONVERSATIONS she could have with family",
                       "HELP she can accept without shame")),
        ),
        contexts=(
            ("When someone faces a choice that conflicts with their religious upbringing", (0, 1, 4, 5)),
            ("When a young person faces a frightening medical decision", (0, 2, 3, 5)),
        ),
        stories=(
            (1, 4, "I used to tell her to follow what the church says. Then I saw her find, in her own faith, "
                   "the freedom to choose, and I understood that her faith was hers to live, not mine to apply."),
            (0, 5, "I thought giving her the facts was enough. Then I saw how alone she felt with them, and "
                   "learnt that a decision is made well when someone stands beside the person making it."),
        ),
    ),
    DemoQuestion(
        text="My 10-year-old son refuses to do his homework and spends all his time gaming. What should I do?",
        values=(
            DemoValue("Clear Rules", "Setting limits a child can rely on.",
                      ("RULES about screen time the whole family keeps", "ROUTINES that put homework first",
                       "CONSEQUENCES that are known in advance")),
            DemoValue("Curiosity About Gaming", "Understanding what the games give him.",
                      ("GAMES he is proud to show", "SKILLS he builds while playing", "FRIENDS he meets in the games")),
            DemoValue("Learning That Matters To Him", "Connecting school work to what he cares about.",
                      ("TOPICS in his games that link to school", "PROJECTS where his interests count",
                       "MOMENTS when learning feels like play")),
            DemoValue("Calm Connection", "Keeping the relationship warm while things are hard.",
                      ("EVENINGS spent together without screens", "TONES of voice that stay calm",
                       "SIGNS that he feels heard")),
            DemoValue("Growing Self Direction", "Helping him learn to manage his own time.",
                      ("PLANS he makes for himself", "CHOICES about when to play and when to work",
                       "SUCCESSES he owns")),
            DemoValue("Checking What Is Underneath", "Finding out whether something else is going on.",
                      ("STRUGGLES at school he may hide", "FEELINGS the games help him escape",
                       "TEACHERS who notice changes in him")),
        ),
        contexts=(
            ("When a child resists schoolwork in favour of something they love", (0, 1, 2, 4)),
            ("When a parent and child are stuck in a repeated conflict", (0, 3, 4, 5)),
        ),
        stories=(
            (0, 2, "I used to ban the games until homework was done. Then I saw him research castles for hours "
                   "because of a game, and I started building homework around what he already loved."),
            (1, 2, "I tried to understand his games just to understand him. Then I saw those same games could "
                   "become a door into his schoolwork, and curiosity turned into learning."),
        ),
    ),
    DemoQuestion(
        text="Can you describe what happened in the 2020 US election?",
        values=(
            DemoValue("Verified Facts", "Stating what the record shows, with sources.",
                      ("RESULTS certified by each state", "COURT rulings on the challenges", "SOURCES anyone can check")),
            DemoValue("Respect For Disagreement", "Acknowledging that people feel strongly, without endorsing claims.",
                      ("FEELINGS of people who distrust the result", "WORDS that do not mock anyone",
                       "QUESTIONS people genuinely have")),
            DemoValue("Transparent Reasoning", "Showing how conclusions follow from evidence.",
                      ("STEPS from evidence to conclusion", "CLAIMS that were tested and how", "LIMITS of what is known")),
            DemoValue("Democratic Trust", "Supporting confidence in how elections work.",
                      ("SAFEGUARDS that protect the count", "OFFICIALS from both parties who oversaw it",
                       "AUDITS that confirmed the totals")),
            DemoValue("Neutral Framing", "Describing events without taking sides.",
                      ("TERMS that both sides would accept", "EVENTS in the order they happened",
                       "VIEWPOINTS presented fairly")),
            DemoValue("Helping People Check For Themselves", "Equipping people to verify claims on their own.",
                      ("RECORDS anyone can look up", "METHODS for checking a claim", "QUESTIONS worth asking of a source")),
        ),
        contexts=(
            ("When explaining a contested political event to someone who may distrust the answer", (0, 1, 2, 5)),
            ("When describing how an election was run and counted", (0, 2, 3, 4)),
        ),
        stories=(
            (0, 5, "I used to just list the certified results. Then I saw people dismiss them as propaganda, and "
                   "learnt that showing them how to check the records themselves earned more trust than any list."),
            (1, 2, "I tried to respect people's doubts by never challenging a claim. Then I saw that walking them "
                   "through the evidence step by step respected them more than leaving them where they were."),
        ),
    ),
)


def demo_campaign_load() -> tuple[Campaign, bool]:
    """The demo campaign, created and filled on first use; (campaign, whether it was filled now).

    A demo campaign that has no values yet (made by an earlier version) is filled too."""
    with transaction.atomic():
        campaign = Campaign.objects.select_for_update().filter(slug=DEMO_SLUG).first() or campaign_create(
            title="What should guide an AI's answers?", slug=DEMO_SLUG,
            description="A demo Moral Graph Elicitation study with three hard questions.",
            questions=[q.text for q in QUESTIONS], activities=DEMO_ACTIVITIES, status=Campaign.Status.OPEN,
        )
        if campaign.canonical_cards.exists() or not campaign.is_open:
            return campaign, False
        _fill(campaign)
    return campaign, True


def _fill(campaign: Campaign) -> None:
    people = []
    for _ in range(PEOPLE):
        person = participant_join(campaign=campaign, session=SessionBase())
        participant_consent(participant=person)
        people.append(person)
    questions = {q.text: q for q in campaign.questions.all()}
    for demo in QUESTIONS:
        question = questions.get(demo.text)
        if question is None:  # an earlier demo with other questions keeps them
            continue
        values = _values(campaign, question, demo, people)
        contexts = _contexts(campaign, demo, values)
        stories = [UpgradeStory.objects.create(campaign=campaign, context=contexts[0], from_card=values[a],
                                               to_card=values[b], story=text, model_name="demo")
                   for a, b, text in demo.stories]
        # Three people call one story an upgrade: enough for MAI's rules to keep the edge.
        voters = [p for i, p in enumerate(people) if i not in (demo.stories[demo.kept][0], demo.stories[demo.kept][1])]
        for person in voters[:3]:
            edge_vote_cast(participant=person, story=stories[demo.kept], relationship="upgrade",
                           comment="They saw more of what matters in the situation.")


def _values(campaign: Campaign, question, demo: DemoQuestion, people) -> list[CanonicalCard]:
    vectors = embed_policies([list(v.policies) for v in demo.values])
    values = []
    for person, value, vector in zip(people, demo.values, vectors):
        canonical = CanonicalCard.objects.create(
            campaign=campaign, question=question, title=value.title, description=value.description,
            policies=list(value.policies), embedding=[float(x) for x in vector])
        ValuesCard.objects.create(participant=person, question=question, title=value.title,
                                  description=value.description, policies=list(value.policies), canonical=canonical,
                                  dedup_method="new")
        values.append(canonical)
    return values


def _contexts(campaign: Campaign, demo: DemoQuestion, values: list[CanonicalCard]) -> list[Context]:
    texts = [text for text, _ in demo.contexts]
    contexts = []
    for (text, members), vector in zip(demo.contexts, embedder_texts(texts)):
        context = Context.objects.create(campaign=campaign, text=text, embedding=[float(x) for x in vector])
        context.cards.add(*(values[i] for i in members))
        contexts.append(context)
    return contexts
