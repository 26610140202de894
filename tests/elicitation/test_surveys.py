"""The value survey: rounds rotate over the pool, one answer per participant, item and wave (also
under concurrency), bad answers refused, withdrawal forgets, and the per-wave vector matches a hand
computation on planted answers."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from elicitation.domain import surveys as domain
from elicitation.models import Activity, SurveyAnswer, SurveyRound
from elicitation.selectors.surveys import survey_screen, survey_vectors, wave_current
from elicitation.services import surveys as svc
from elicitation.services.campaigns import CampaignClosed, campaign_set_status
from elicitation.services.participants import participant_withdraw
from tests.factories import CampaignFactory, make_participant, make_wave, moment


def survey_campaign(**kwargs):
    campaign = CampaignFactory(activities=[Activity.SURVEY], **kwargs)
    make_wave(campaign, timezone.now() - timedelta(days=1), label="First")
    return campaign


@pytest.mark.django_db
def test_the_pool_spans_every_dimension_and_a_round_eight_different_ones():
    pool = domain.survey_pool()
    assert len(pool) == 15 * domain.POOL_ITEMS_PER_DIM + domain.POOL_ITEMS_PER_DIM
    assert {d for item in pool for d in item.dims} == set(range(19))
    for start in range(0, len(pool), domain.ROUND_LENGTH):
        assert len({item.dimension for item in domain.round_items(start=start)}) == domain.ROUND_LENGTH


@pytest.mark.django_db
def test_rounds_rotate_so_a_waves_participants_cover_the_pool_and_waves_shift_them():
    campaign = survey_campaign()
    pool = domain.survey_pool()
    people = [make_participant(campaign) for _ in range(len(pool) // domain.ROUND_LENGTH)]
    rounds = [svc.survey_round_for(participant=p) for p in people]
    asked = [item.id for r in rounds for item in domain.round_items(start=r.start, length=r.length)]
    assert sorted(asked) == sorted(item.id for item in pool)  # every item once across the wave
    assert svc.survey_round_for(participant=people[0]).pk == rounds[0].pk  # the same round on a return

    make_wave(campaign, timezone.now() - timedelta(hours=1), label="Second")
    again = svc.survey_round_for(participant=people[0])
    assert again.wave.number == 2 and again.start != rounds[0].start


@pytest.mark.django_db
def test_answers_walk_the_round_and_bad_or_repeated_answers_are_refused():
    campaign = survey_campaign()
    participant = make_participant(campaign)
    round = svc.survey_round_for(participant=participant)
    first = survey_screen(round=round)
    assert (first.position, first.total, first.answered) == (1, domain.ROUND_LENGTH, 0)
    assert sorted(i for i, _ in first.options) == list(range(len(first.item.options)))

    with pytest.raises(ValidationError) as bad:
        svc.survey_answer_record(participant=participant, item_id=first.item.id, choice="7")
    assert "choice" in bad.value.message_dict
    with pytest.raises(ValidationError) as bad:
        svc.survey_answer_record(participant=participant, item_id=first.item.id, choice="a")
    assert "choice" in bad.value.message_dict
    outside = next(i for i in domain.survey_pool() if i.id not in
                   {x.id for x in domain.round_items(start=round.start)})
    with pytest.raises(ValidationError) as bad:
        svc.survey_answer_record(participant=participant, item_id=outside.id, choice=0)
    assert "item" in bad.value.message_dict

    svc.survey_answer_record(participant=participant, item_id=first.item.id, choice="1")
    with pytest.raises(ValidationError) as bad:
        svc.survey_answer_record(participant=participant, item_id=first.item.id, choice="0")
    assert "item" in bad.value.message_dict
    second = survey_screen(round=round)
    assert (second.position, second.answered) == (2, 1) and second.item.id != first.item.id
    assert SurveyAnswer.objects.get().choice == 1


@pytest.mark.django_db
def test_no_answers_before_the_first_wave_or_once_the_study_is_closed():
    campaign = CampaignFactory(activities=[Activity.SURVEY])
    participant = make_participant(campaign)
    with pytest.raises(ValidationError) as bad:
        svc.survey_round_for(participant=participant)
    assert "wave" in bad.value.message_dict
    make_wave(campaign, timezone.now() - timedelta(days=1))
    campaign_set_status(campaign=campaign, status="closed")
    participant.campaign.refresh_from_db()
    with pytest.raises(CampaignClosed):
        svc.survey_round_for(participant=participant)


@pytest.mark.django_db
def test_withdrawal_deletes_their_answers_and_their_weight_in_the_vector():
    campaign = survey_campaign()
    stays, leaves = make_participant(campaign), make_participant(campaign)
    for person in (stays, leaves):
        item = survey_screen(round=svc.survey_round_for(participant=person)).item
        svc.survey_answer_record(participant=person, item_id=item.id, choice=0)
    before = survey_vectors(campaign=campaign)[0]
    assert before.participants == 2
    participant_withdraw(participant=leaves, session=SessionStore())
    after = survey_vectors(campaign=campaign)[0]
    assert SurveyAnswer.objects.count() == 1 and after.participants == 1 and after.answers == 1


@pytest.mark.django_db
def test_the_vector_per_wave_matches_a_hand_computation_on_planted_answers():
    campaign = CampaignFactory(activities=[Activity.SURVEY])
    start = timezone.now() - timedelta(days=10)
    w1 = make_wave(campaign, start, label="One")
    w2 = make_wave(campaign, start + timedelta(days=5), label="Two")
    people = [make_participant(campaign) for _ in range(3)]
    # Plant answers through the service, wave by wave; remember what each says per dimension.
    expected: dict[int, dict[int, list[float]]] = {1: {}, 2: {}}
    for wave, at in ((w1, start + timedelta(days=1)), (w2, start + timedelta(days=6))):
        with moment(at):
            assert wave_current(campaign=campaign) == wave
            for n, person in enumerate(people):
                round = svc.survey_round_for(participant=person)
                for k, item in enumerate(domain.round_items(start=round.start, length=round.length)):
                    choice = (n + k + wave.number) % len(item.options)
                    svc.survey_answer_record(participant=person, item_id=item.id, choice=choice)
                    if len(item.dims) == 1:
                        expected[wave.number].setdefault(item.dims[0], []).append(1.0 if choice == 0 else 0.0)
                    else:
                        for j, dim in enumerate(item.dims):
                            expected[wave.number].setdefault(dim, []).append(1.0 if choice == j else 0.0)
    vectors = survey_vectors(campaign=campaign)
    assert [v.wave.number for v in vectors] == [1, 2]
    for v in vectors:
        assert v.participants == 3 and v.answers == 3 * domain.ROUND_LENGTH
        for dim in range(19):
            shares = expected[v.wave.number].get(dim)
            if shares is None:
                assert np.isnan(v.vector.mean[dim]) and v.vector.counts[dim] == 0
                continue
            assert (v.wave.number, dim, v.vector.counts[dim], v.vector.mean[dim]) == (v.wave.number, dim, len(shares), pytest.approx(sum(shares) / len(shares)))
            assert v.vector.counts[dim] == len(shares)
            assert 0.0 <= v.vector.low[dim] <= v.vector.mean[dim] + 1e-12
            assert v.vector.mean[dim] - 1e-12 <= v.vector.high[dim] <= 1.0
    again = survey_vectors(campaign=campaign)
    assert all(np.array_equal(a.vector.low, b.vector.low, equal_nan=True) for a, b in zip(vectors, again, strict=True))


def test_the_bootstrap_resamples_participants_not_answers():
    # Two people, each consistent: one always keeps the rule, one never does. Resampling people can
    # only give 0, 0.5 or 1, so the interval's ends are among those; resampling answers could not.
    obs = [domain.Observation("a", 0, 1.0)] * 4 + [domain.Observation("b", 0, 0.0)] * 4
    vector = domain.value_vector_from_observations(obs)
    assert vector.mean[0] == 0.5 and vector.low[0] == 0.0 and vector.high[0] == 1.0


@pytest.mark.django_db(transaction=True)
def test_the_same_answer_sent_ten_times_at_once_is_stored_once():
    campaign = survey_campaign()
    participant = make_participant(campaign)
    item = survey_screen(round=svc.survey_round_for(participant=participant)).item
    barrier = threading.Barrier(10)

    def answer(i):
        barrier.wait()
        try:
            return svc.survey_answer_record(participant=participant, item_id=item.id, choice=i % 2)
        except ValidationError as exc:
            return exc
        finally:
            connection.close()

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(answer, range(10)))
    assert SurveyAnswer.objects.filter(participant=participant, item_id=item.id).count() == 1
    assert sum(isinstance(r, ValidationError) for r in results) == 9


@pytest.mark.django_db(transaction=True)
def test_participants_arriving_together_get_distinct_rounds():
    campaign = survey_campaign()
    people = [make_participant(campaign) for _ in range(8)]
    barrier = threading.Barrier(8)

    def start(i):
        barrier.wait()
        try:
            return svc.survey_round_for(participant=people[i]).start
        finally:
            connection.close()

    with ThreadPoolExecutor(8) as pool:
        starts = list(pool.map(start, range(8)))
    assert len(set(starts)) == 8


def test_every_item_has_its_own_id_and_every_dimension_has_items():
    items = domain.load_items()
    assert len({item.id for item in items}) == len(items)
    assert {d for item in items for d in item.dims} == set(range(len(domain.DIMENSIONS)))


@pytest.mark.django_db
def test_the_survey_stays_on_once_someone_has_answered():
    from elicitation.services.campaigns import campaign_update

    campaign = survey_campaign()
    person = make_participant(campaign)
    campaign_update(campaign=campaign, title=campaign.title, description="", questions=[], new_questions=[],
                    activities=[Activity.SURVEY, Activity.INTERVIEW])  # adding is fine
    item = survey_screen(round=svc.survey_round_for(participant=person)).item
    svc.survey_answer_record(participant=person, item_id=item.id, choice=0)
    with pytest.raises(ValidationError) as refused:
        campaign_update(campaign=campaign, title=campaign.title, description="", questions=[], new_questions=[],
                        activities=[Activity.INTERVIEW])
    assert "activities" in refused.value.message_dict


@pytest.mark.django_db
def test_the_page_answers_bad_input_with_400_and_keeps_the_screen(client):
    from chorus.accounts.join_links import join_token_make

    campaign = survey_campaign()
    client.get(f"/join/{join_token_make(campaign_id=campaign.pk)}/")
    client.post(f"/join/{join_token_make(campaign_id=campaign.pk)}/", {"consent": "yes"})
    page = client.get(f"/c/{campaign.slug}/survey/", HTTP_HX_REQUEST="true")
    assert page.status_code == 200, page.content[:300]
    assert "Question 1 of 8" in page.content.decode()
    item = survey_screen(round=SurveyRound.objects.get()).item
    for bad in ({"item": item.id, "choice": "9"}, {"item": item.id, "choice": "x"}, {"item": "H_999", "choice": "0"},
                {"choice": "0"}):
        response = client.post(f"/c/{campaign.slug}/survey/answer/", bad, HTTP_HX_REQUEST="true")
        body = response.content.decode()
        assert response.status_code == 400 and 'role="alert"' in body and "Question 1 of 8" in body, bad
    nul = client.post(f"/c/{campaign.slug}/survey/answer/", {"item": item.id, "choice": "0\x00"})
    assert nul.status_code == 400  # refused before the view, as every form's NUL is
    assert not SurveyAnswer.objects.exists()
    done = client.post(f"/c/{campaign.slug}/survey/answer/", {"item": item.id, "choice": "1"}, HTTP_HX_REQUEST="true")
    assert done.status_code == 200 and "Question 2 of 8" in done.content.decode()
