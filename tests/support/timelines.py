"""A campaign with waves whose comparisons drift: the same prompts judged in each wave, through the
real services (the scripted chat backend writes both responses), each wave's judgments made inside
its window."""
from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from elicitation.domain.surveys import round_items
from elicitation.services.surveys import survey_answer_record, survey_round_for
from tests.factories import CampaignFactory, make_wave, moment
from tests.support.comparisons import judge, person

PROMPTS = ("How should I tell my friend?", "What do I say to my boss?")
PLAIN, WARM = "Say it plainly.", "Say it kindly, and listen first."


def drifting_campaign(backend, *, waves: int = 3, people: int = 2, title: str = "Drift study", survey: bool = False):
    """`people` participants judge both prompts in every wave; the share preferring the warm answer
    grows from wave to wave (nobody in the first, everybody in the last). With `survey`, each also
    answers their value-survey round in each wave: the first option while they prefer the plain
    answer, the second once they prefer the warm one."""
    campaign = CampaignFactory(title=title)
    start = timezone.now() - timedelta(days=waves + 1)
    participants = [person(campaign, system="Help me talk to people.") for _ in range(people)]
    for w in range(waves):
        make_wave(campaign, start + timedelta(days=w), label=f"Wave {w + 1}")
    for w in range(waves):
        warm_people = round(people * w / max(1, waves - 1))
        for n, participant in enumerate(participants):
            with moment(start + timedelta(days=w, hours=1 + n)):
                for prompt in PROMPTS:
                    choice = "b" if n < warm_people else "a"
                    judge(participant, backend, prompt=prompt, choice=choice, a=PLAIN, b=WARM)
                if survey:
                    _answer_round(participant, second_option=n < warm_people)
    return campaign, participants


def _answer_round(participant, *, second_option: bool) -> None:
    round = survey_round_for(participant=participant)
    for item in round_items(start=round.start, length=round.length):
        survey_answer_record(participant=participant, item_id=item.id, choice=1 if second_option else 0)
