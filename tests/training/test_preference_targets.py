"""Preference-population targets: a campaign's judged comparisons frozen as pseudonymous pairs and
per-person records; ties counted, not written; thin contributors left out; empty sources refused."""
from __future__ import annotations

import hashlib
import json

import pytest
from django.core.exceptions import ValidationError

from elicitation.domain.comparisons_exports import pseudonym
from elicitation.services import comparisons as comparison_services
from tests.factories import CampaignFactory
from tests.support.comparisons import judge, person
from training.models import AlignmentTarget
from training.services.targets import target_freeze_preference_population
from training.storage import target_dir, training_root

pytestmark = pytest.mark.django_db


@pytest.fixture
def study(scripted_llm):
    """Alice: three pairs and a tie, her system message changed before the last pair. Bob: one pair
    and one "both bad". Carol: only a tie."""
    campaign = CampaignFactory(title="Faith study")
    alice = person(campaign, system="Answer briefly.", dimensions={"style": "brief"})
    judge(alice, scripted_llm, prompt="P1", choice="a", a="Short.", b="Long.")
    judge(alice, scripted_llm, prompt="P2", choice="tie")
    judge(alice, scripted_llm, prompt="P3", choice="b", a="Cold.", b="Kind.")
    comparison_services.system_message_write(participant=alice, text="Answer warmly.",
                                             dimensions={"harmlessness": "no judgement"})
    judge(alice, scripted_llm, prompt="P4", choice="a", a="Warm.", b="Curt.")
    bob = person(campaign, system="Cite sources.")
    judge(bob, scripted_llm, prompt="Q1", choice="both_bad")
    judge(bob, scripted_llm, prompt="Q2", choice="b", a="No source.", b="Per WHO, ...")
    carol = person(campaign, system="Be gentle.")
    judge(carol, scripted_llm, prompt="R1", choice="tie")
    return {"campaign": campaign, "alice": alice, "bob": bob, "carol": carol}


def rows(target, name):
    return [json.loads(line) for line in (target_dir(target.uuid) / name).read_text().splitlines()]


def test_pairs_and_users_are_frozen_under_pseudonyms_with_counts(study):
    campaign, alice, bob = study["campaign"], study["alice"], study["bob"]
    target = target_freeze_preference_population(name="prefs", campaign_id=campaign.pk)

    assert (target.kind, target.version, target.campaign_id) == ("preference_population", 1, campaign.pk)
    assert target.source_label == "Preferences of “Faith study”: 4 pairs from 2 participants"
    a, b = pseudonym(alice.public_id), pseudonym(bob.public_id)
    assert rows(target, "preferences.jsonl") == [
        {"user": a, "system": "Answer briefly.", "dimensions": {"style": "brief"}, "prompt": "P1",
         "chosen": "Short.", "rejected": "Long."},
        {"user": a, "system": "Answer briefly.", "dimensions": {"style": "brief"}, "prompt": "P3",
         "chosen": "Kind.", "rejected": "Cold."},
        {"user": a, "system": "Answer warmly.", "dimensions": {"harmlessness": "no judgement"}, "prompt": "P4",
         "chosen": "Warm.", "rejected": "Curt."},
        {"user": b, "system": "Cite sources.", "dimensions": {}, "prompt": "Q2",
         "chosen": "Per WHO, ...", "rejected": "No source."},
    ]
    assert rows(target, "users.jsonl") == [  # each with the system message of their latest pair
        {"user": a, "system": "Answer warmly.", "dimensions": {"harmlessness": "no judgement"}, "pairs": 3},
        {"user": b, "system": "Cite sources.", "dimensions": {}, "pairs": 1},
    ]
    assert target.provenance == {
        "participants": 3, "comparisons_judged": 7, "pairs_kept": 4, "ties": 2, "both_bad": 1,
        "users_kept": 2, "users_below_min_pairs": 1, "min_pairs_per_user": 1,
    }
    assert {f.name: f.rows for f in target.files.all()} == {"preferences.jsonl": 4, "users.jsonl": 2}

    for f in target.files.all():
        data = (target_dir(target.uuid) / f.name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f.sha256 and len(data) == f.size_bytes
        for participant in (alice, bob, study["carol"]):
            assert str(participant.public_id).encode() not in data  # pseudonyms only

    again = target_freeze_preference_population(name="prefs", campaign_id=campaign.pk)
    assert again.version == 2 and again.content_sha256 == target.content_sha256  # same data, same hash
    assert {f.sha256 for f in again.files.all()} == {f.sha256 for f in target.files.all()}


def test_people_with_fewer_pairs_than_the_minimum_are_left_out_and_counted(study):
    target = target_freeze_preference_population(name="prefs", campaign_id=study["campaign"].pk, min_pairs_per_user=2)
    alice = pseudonym(study["alice"].public_id)
    assert {r["user"] for r in rows(target, "preferences.jsonl")} == {alice}
    assert [(r["user"], r["pairs"]) for r in rows(target, "users.jsonl")] == [(alice, 3)]
    assert target.provenance == {
        "participants": 3, "comparisons_judged": 7, "pairs_kept": 3, "ties": 2, "both_bad": 1,
        "users_kept": 1, "users_below_min_pairs": 2, "min_pairs_per_user": 2,
    }


def test_a_participant_who_never_consented_is_not_in_the_target(study, scripted_llm):
    # The participant pages require consent before anyone compares; the export selector holds to it too.
    stranger = person(study["campaign"], system="Agree with me.", consent=False)
    judge(stranger, scripted_llm, prompt="S1", choice="a", a="Yes.", b="No.")
    target = target_freeze_preference_population(name="prefs", campaign_id=study["campaign"].pk)
    assert pseudonym(stranger.public_id) not in {r["user"] for r in rows(target, "users.jsonl")}
    assert (target.provenance["participants"], target.provenance["pairs_kept"]) == (3, 4)


@pytest.mark.parametrize("min_pairs", [0, 1001])
def test_a_minimum_out_of_range_is_refused(study, min_pairs):
    with pytest.raises(ValidationError) as exc:
        target_freeze_preference_population(name="prefs", campaign_id=study["campaign"].pk,
                                            min_pairs_per_user=min_pairs)
    assert "from 1 to 1000" in exc.value.message_dict["min_pairs_per_user"][0]


def test_no_usable_pairs_is_refused_and_leaves_nothing(study, scripted_llm, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    no_judgements = CampaignFactory()
    person(no_judgements, system="Be brief.")
    undirected = CampaignFactory()
    judge(person(undirected, system="Be brief."), scripted_llm, prompt="T", choice="tie")
    cases = [
        ({"campaign_id": 999999}, "campaign", "No such campaign"),
        ({"campaign_id": no_judgements.pk}, "campaign", "No one in this campaign has preferred"),
        ({"campaign_id": undirected.pk}, "campaign", "No one in this campaign has preferred"),
        ({"campaign_id": study["campaign"].pk, "min_pairs_per_user": 4}, "min_pairs_per_user", "lower the minimum"),
        ({"campaign_id": study["campaign"].pk, "name": " "}, "name", "name"),
    ]
    for kwargs, field, words in cases:
        with pytest.raises(ValidationError) as exc:
            target_freeze_preference_population(**{"name": "prefs", **kwargs})
        assert list(exc.value.message_dict) == [field] and words in exc.value.message_dict[field][0], kwargs
    assert not AlignmentTarget.objects.exists()
    assert not (training_root() / "targets").exists()
