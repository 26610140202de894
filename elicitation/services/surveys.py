"""Writes for the value survey: handing out a wave's round, recording answers, forgetting them."""
from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from chorus.accounts.models import Participant
from elicitation.domain import surveys as domain
from elicitation.models import Activity, SurveyAnswer, SurveyRound, Wave
from elicitation.selectors.surveys import wave_current
from elicitation.services.campaigns import campaign_require_open

DOING = "survey answers"


def survey_round_for(*, participant: Participant) -> SurveyRound:
    """The participant's round in the current wave, handed out on first visit.

    Rounds of a wave are numbered in turn under a lock on the wave, so two participants arriving
    at once get consecutive stretches of the pool and together cover it.
    """
    campaign = participant.campaign
    campaign_require_open(campaign, doing=DOING, activity=Activity.SURVEY)
    wave = wave_current(campaign=campaign)
    if wave is None:
        raise ValidationError({"wave": "The survey opens when the study's first wave starts."})
    existing = SurveyRound.objects.filter(participant=participant, wave=wave).first()
    if existing is not None:
        return existing
    with transaction.atomic():
        Wave.objects.select_for_update().filter(pk=wave.pk).values_list("pk").get()
        existing = SurveyRound.objects.filter(participant=participant, wave=wave).first()
        if existing is not None:
            return existing
        handed_out = SurveyRound.objects.filter(wave=wave).count()
        return SurveyRound.objects.create(participant=participant, wave=wave, length=domain.ROUND_LENGTH,
                                          start=domain.round_start(handed_out=handed_out, wave_number=wave.number))


def survey_answer_record(*, participant: Participant, item_id: str, choice: str | int) -> SurveyAnswer:
    """Records one answer of the participant's current round. Refused (ValidationError naming the
    field) when the item is not in their round, the choice is not one of its options, or they have
    answered it in this wave already; the unique constraint decides between two racing submits."""
    round = survey_round_for(participant=participant)
    items = {item.id: item for item in domain.round_items(start=round.start, length=round.length)}
    item = items.get(str(item_id))
    if item is None:
        raise ValidationError({"item": "That question is not in your survey for this wave."})
    try:
        index = int(str(choice).strip())
    except ValueError:
        index = -1
    if not 0 <= index < len(item.options):
        raise ValidationError({"choice": f"Choose one of the {len(item.options)} options."})
    try:
        with transaction.atomic():
            return SurveyAnswer.objects.create(participant=participant, campaign=participant.campaign,
                                               wave=round.wave, item_id=item.id, choice=index)
    except IntegrityError:
        raise ValidationError({"item": "You have answered this question in this wave already."}) from None


def survey_answers_forget(*, participant: Participant) -> int:
    """Deletes the participant's survey answers and rounds (withdrawal); the number of answers."""
    deleted, _ = SurveyAnswer.objects.filter(participant=participant).delete()
    SurveyRound.objects.filter(participant=participant).delete()
    return deleted
