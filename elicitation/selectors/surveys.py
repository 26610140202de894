"""Reads for the value survey: the current wave, a participant's screen, the campaign's vector per
wave, and the moral graph's leading values per wave."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone

from elicitation.domain import surveys as domain
from elicitation.domain.surveys import Item, Observation, ValueVector
from elicitation.models import Campaign, SurveyAnswer, SurveyRound, Wave
from elicitation.selectors.campaigns import wave_window
from elicitation.selectors.moral_graph import graph_compute, wisest_values_per_context


def wave_current(*, campaign: Campaign, at: datetime | None = None) -> Wave | None:
    """The wave running at `at` (default now): the last one that has started."""
    at = at or timezone.now()
    return Wave.objects.filter(campaign=campaign, starts_at__lte=at).order_by("-starts_at").first()


@dataclass(frozen=True)
class SurveyScreen:
    wave: Wave
    item: Item | None  # the next unanswered item; None once the round is done
    options: tuple[tuple[int, str], ...]  # (the option's index in the item, its text), in shown order
    position: int  # 1-based number of this screen
    total: int
    answered: int


def survey_screen(*, round: SurveyRound) -> SurveyScreen:
    items = domain.round_items(start=round.start, length=round.length)
    answered = set(SurveyAnswer.objects.filter(participant_id=round.participant_id, wave_id=round.wave_id)
                   .values_list("item_id", flat=True))
    remaining = [(k, item) for k, item in enumerate(items) if item.id not in answered]
    done = len(items) - len(remaining)
    if not remaining:
        return SurveyScreen(round.wave, None, (), len(items), len(items), done)
    k, item = remaining[0]
    order = domain.shown_order(item, salt=round.start + k)
    return SurveyScreen(round.wave, item, tuple((i, item.options[i]) for i in order), done + 1, len(items), done)


def survey_observations(*, wave: Wave) -> list[Observation]:
    """Every answer in the wave as what it says about the dimensions; one respondent per participant."""
    by_id = domain.items_by_id()
    observations: list[Observation] = []
    for participant_id, item_id, choice in SurveyAnswer.objects.filter(wave=wave).values_list(
            "participant_id", "item_id", "choice").order_by("participant_id", "item_id"):
        item = by_id.get(item_id)
        if item is None or choice >= len(item.options):
            continue
        one_hot = [1.0 if k == choice else 0.0 for k in range(len(item.options))]
        observations += domain.observations_for_choice(str(participant_id), item, one_hot)
    return observations


@dataclass(frozen=True)
class WaveVector:
    wave: Wave
    vector: ValueVector
    participants: int
    answers: int


def survey_vectors(*, campaign: Campaign) -> list[WaveVector]:
    """The campaign's value vector in each wave, from that wave's answers, with 95 % bootstrap
    intervals over participants (same 19 dimensions, orientation and [0, 1] range as a model's)."""
    out = []
    for wave in Wave.objects.filter(campaign=campaign).order_by("number"):
        answers = SurveyAnswer.objects.filter(wave=wave)
        observations = survey_observations(wave=wave)
        out.append(WaveVector(wave, domain.value_vector_from_observations(observations),
                              answers.values("participant_id").distinct().count(), answers.count()))
    return out


def survey_vectors_json(*, campaign: Campaign) -> dict:
    return {
        "campaign": campaign.slug,
        "dimensions": [{"name": d, "label": domain.DIMENSION_LABELS[d]} for d in domain.DIMENSIONS],
        "waves": [{"number": w.wave.number, "label": str(w.wave), "starts_at": w.wave.starts_at.isoformat(),
                   "participants": w.participants, "answers": w.answers, "vector": w.vector.to_json()}
                  for w in survey_vectors(campaign=campaign)],
    }


def graph_leaders_per_wave(*, campaign: Campaign) -> list[dict]:
    """For each wave, the moral graph as of the wave's end (votes before the next wave starts, or
    now for the latest): each context's wisest values, and what changed since the wave before."""
    out: list[dict] = []
    previous: dict[int, list[str]] = {}
    for wave in Wave.objects.filter(campaign=campaign).order_by("number"):
        _, end = wave_window(wave=wave)
        result = graph_compute(campaign=campaign, as_of=end)
        contexts = []
        for row in wisest_values_per_context(result=result, campaign=campaign):
            leaders = [v["title"] for v in row["values"]]
            before = previous.get(row["context_id"], [])
            contexts.append({"context": row["context"], "context_id": row["context_id"], "leaders": leaders,
                             "gained": [t for t in leaders if t not in before],
                             "lost": [t for t in before if t not in leaders],
                             "top_changed": bool(out) and (leaders[:1] != before[:1])})
            previous[row["context_id"]] = leaders
        out.append({"wave": wave, "as_of": result.as_of, "votes": len(result.votes), "contexts": contexts})
    return out
