"""Withdrawing deletes the participant's contributions and takes their words out of everything derived
from them: values (re-worded or deleted), stories and contexts written from those values, principles and
constitution entries, graph snapshots and the cached opinion groups. Frozen targets: tests/training.
The test that plants a marker everywhere and scans for it: test_withdrawal_everywhere.py."""
import numpy as np
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from chorus.accounts.models import Participant
from elicitation.domain.moral_graph import GraphRedaction, graph_redact
from elicitation.models import (
    CanonicalCard,
    CardImpression,
    ConstitutionEntry,
    ConstitutionRedaction,
    Context,
    EdgeVote,
    GraphSnapshot,
    Principle,
    Statement,
    UpgradeStory,
    ValuesCard,
)
from elicitation.selectors.constitutions import (
    constitution_source,
    constitution_version_salmon_json,
    constitution_versions,
)
from elicitation.selectors.statements import statement_groups
from elicitation.services import constitutions as constitution_svc
from elicitation.services import statements as statement_svc
from elicitation.services import values as values_svc
from elicitation.services.moral_graph import graph_snapshot_create
from elicitation.services.participants import Withdrawal, participant_withdraw, participant_withdrawn
from tests.support.seed import seed_peer_values

pytestmark = pytest.mark.django_db

POLICIES = ["THINGS a", "THINGS b", "THINGS c"]


@pytest.fixture
def embedded(monkeypatch):
    """A stand-in embedder: each re-worded value's new vector is recorded, so a test can check it."""
    calls = []

    def embed(policies_list):
        calls.append([list(p) for p in policies_list])
        return np.full((len(policies_list), 384), 1 / np.sqrt(384), dtype=np.float32)

    monkeypatch.setattr(values_svc, "embed_policies", embed)
    return calls


def person(campaign):
    return Participant.objects.create(campaign=campaign, consented_at=timezone.now())


def card_of(participant, canonical, method="judge", title=None, policies=None, description="x"):
    return ValuesCard.objects.create(participant=participant, question=participant.campaign.questions.get(),
                                     title=title or canonical.title, description=description,
                                     policies=policies or canonical.policies, canonical=canonical,
                                     dedup_method=method)


def value(campaign, title="Only Mine", description="Mine, in my words.", policies=POLICIES):
    return CanonicalCard.objects.create(campaign=campaign, question=campaign.questions.get(), title=title,
                                        description=description, policies=policies)


def withdraw(participant):
    return participant_withdraw(participant=participant, session=SessionStore())


# Values --------------------------------------------------------------------------------------------


def test_values_written_by_the_participant_alone_go_with_them(participant):
    peers = seed_peer_values(participant.campaign.questions.get(), stories=0)
    mine = value(participant.campaign)
    card_of(participant, mine, method="new")
    card_of(participant, peers[0])  # a value others hold too (seeded, not written by this participant)
    withdraw(participant)
    assert not Participant.objects.filter(pk=participant.pk).exists()
    assert not ValuesCard.objects.exists()
    assert not CanonicalCard.objects.filter(pk=mine.pk).exists()
    assert CanonicalCard.objects.filter(pk=peers[0].pk).exists()


def test_a_value_only_they_wrote_goes_even_if_others_voted_on_it(participant):
    """Votes and impressions on it were about this person's words; they go with it."""
    peers = seed_peer_values(participant.campaign.questions.get(), stories=0)
    mine = value(participant.campaign)
    card_of(participant, mine, method="new")
    context = participant.campaign.contexts.get()
    context.cards.add(mine)
    other = person(participant.campaign)
    EdgeVote.objects.create(campaign=participant.campaign, participant=other, from_card=peers[0], to_card=mine,
                            context=context, relationship="upgrade", created_at=timezone.now())
    CardImpression.objects.create(participant=other, question=participant.campaign.questions.get(), card=mine,
                                  picked=True)
    withdraw(participant)
    assert not CanonicalCard.objects.filter(pk=mine.pk).exists()
    assert not EdgeVote.objects.exists() and not CardImpression.objects.exists()
    assert Context.objects.filter(pk=context.pk).exists()  # the peers' values still hold it


def test_a_value_others_cards_are_part_of_takes_the_earliest_others_words(participant, embedded):
    campaign = participant.campaign
    peers = seed_peer_values(campaign.questions.get(), stories=0)
    mine = value(campaign, policies=["WORDS of mine", "THINGS I said", "MOMENTS I lived"])
    card_of(participant, mine, method="new")
    first, second = person(campaign), person(campaign)
    card_of(first, mine, title="Their Own Words", description="Theirs.", policies=["PLACES they name", "PEOPLE they trust", "TIMES they recall"])
    card_of(second, mine, title="Later Words", description="Later.", policies=["LATER things", "LATER people", "LATER times"])
    context = campaign.contexts.get()
    context.cards.add(mine)
    story = UpgradeStory.objects.create(campaign=campaign, context=context, from_card=peers[0], to_card=mine,
                                        story="I used to ... my words ...")
    untouched = UpgradeStory.objects.create(campaign=campaign, context=context, from_card=peers[0],
                                            to_card=peers[1], story="Peers only.")
    vote = EdgeVote.objects.create(campaign=campaign, participant=first, story=story, from_card=peers[0],
                                   to_card=mine, context=context, relationship="upgrade", created_at=timezone.now())
    CardImpression.objects.create(participant=second, question=campaign.questions.get(), card=mine, picked=True)

    withdrawal = withdraw(participant)

    mine.refresh_from_db()
    assert (mine.title, mine.description, mine.policies) == (
        "Their Own Words", "Theirs.", ["PLACES they name", "PEOPLE they trust", "TIMES they recall"])
    assert embedded == [[["PLACES they name", "PEOPLE they trust", "TIMES they recall"]]]
    assert mine.embedding == pytest.approx([1 / np.sqrt(384)] * 384)
    assert not UpgradeStory.objects.filter(pk=story.pk).exists()  # the LLM wrote it from the old words
    assert UpgradeStory.objects.filter(pk=untouched.pk).exists()
    vote.refresh_from_db()
    assert vote.story_id is None and vote.to_card_id == mine.pk  # the vote keeps its edge
    assert CardImpression.objects.filter(card=mine).count() == 1
    assert ValuesCard.objects.filter(canonical=mine).count() == 2
    assert withdrawal.graph.values_reworded == {mine.pk: {"title": "Their Own Words", "description": "Theirs.",
                                                          "policies": ["PLACES they name", "PEOPLE they trust",
                                                                       "TIMES they recall"]}}
    assert withdrawal.graph.values_deleted == frozenset()


def test_a_value_worded_by_their_card_is_found_whichever_way_the_card_came(participant, embedded):
    """Split off by a curator ("curator"), or moved elsewhere after deduplication made it: the value's
    wording is the card's, so it is theirs."""
    campaign = participant.campaign
    split_off = value(campaign, title="Split Off Words")
    card_of(participant, split_off, method="curator", description=split_off.description)
    left_behind = value(campaign, title="Left Behind Words", policies=["LEFT a", "LEFT b", "LEFT c"])
    elsewhere = value(campaign, title="Someone Else")
    card_of(person(campaign), elsewhere, method="new")
    card_of(participant, elsewhere, method="curator", title="Left Behind Words", description="Mine, in my words.",
            policies=["LEFT a", "LEFT b", "LEFT c"])
    joined = value(campaign, title="Joined By Me")
    card_of(person(campaign), joined, method="new")
    card_of(participant, joined, title="My Take", policies=["MINE a", "MINE b", "MINE c"])
    imported = CanonicalCard.objects.create(campaign=campaign, question=campaign.questions.get(),
                                            title="My Take", description="x", policies=["MINE a", "MINE b", "MINE c"],
                                            external_id="mai-1")
    withdraw(participant)
    assert not CanonicalCard.objects.filter(pk__in=[split_off.pk, left_behind.pk]).exists()
    assert CanonicalCard.objects.get(pk=elsewhere.pk).title == "Someone Else"
    assert CanonicalCard.objects.get(pk=joined.pk).title == "Joined By Me"  # worded by someone else
    assert CanonicalCard.objects.filter(pk=imported.pk).exists()  # an imported study's own value


def test_contexts_written_from_their_values_go_unless_others_hold_them(participant, embedded):
    campaign = participant.campaign
    peers = seed_peer_values(campaign.questions.get(), stories=0)
    shared = campaign.contexts.get()
    gone, reworded = value(campaign), value(campaign, title="Shared Value", policies=["SHARED a", "SHARED b", "SHARED c"])
    card_of(participant, gone, method="new")
    card_of(participant, reworded, method="new")
    card_of(person(campaign), reworded, title="Other Words", policies=["OTHER a", "OTHER b", "OTHER c"])
    only_gone = Context.objects.create(campaign=campaign, text="When only my value applies")
    only_reworded = Context.objects.create(campaign=campaign, text="When my wording mattered")
    both = Context.objects.create(campaign=campaign, text="When both of my values apply")
    voted = Context.objects.create(campaign=campaign, text="When others voted here")
    only_gone.cards.add(gone)
    only_reworded.cards.add(reworded)
    both.cards.add(gone, reworded)
    shared.cards.add(gone, reworded)
    voted.cards.add(reworded, peers[1])
    EdgeVote.objects.create(campaign=campaign, participant=person(campaign), from_card=peers[1], to_card=reworded,
                            context=voted, relationship="upgrade", created_at=timezone.now())

    withdrawal = withdraw(participant)

    assert set(Context.objects.values_list("text", flat=True)) == {shared.text, voted.text}
    assert withdrawal.graph.contexts_deleted == {only_gone.pk, only_reworded.pk, both.pk}
    assert set(shared.cards.values_list("pk", flat=True)) == {p.pk for p in peers} | {reworded.pk}


# Principles and constitutions -----------------------------------------------------------------------


def statement_campaign(participant):
    campaign = participant.campaign
    campaign.activities = [*campaign.activities, "principles"]
    campaign.save(update_fields=["activities"])
    return campaign


def published(*principles, title="Charter"):
    constitution = constitution_svc.constitution_create(title=title)
    version = constitution_svc.constitution_draft(constitution=constitution)
    for principle in principles:
        constitution_svc.constitution_entry_add(version=version, principle=principle)
    return constitution_svc.constitution_version_publish(version=version)


def test_principles_from_their_words_go_and_published_entries_keep_a_note(participant, embedded):
    campaign = statement_campaign(participant)
    statement = statement_svc.statement_submit(participant=participant, text="Say what you do not know.")
    from_statement = statement_svc.statement_promote(statement=statement, name="Admit uncertainty")
    mine = value(campaign)
    card_of(participant, mine, method="new")
    from_value = constitution_svc.principle_create(name="Drafted", definition="From my value.",
                                                   negated_definition="Not from my value.",
                                                   provenance=Principle.Provenance.FROM_VALUE, source_value=mine)
    other = constitution_svc.principle_create(name="Staff rule", definition="Be kind.")
    version = published(other, from_statement, from_value)
    draft = constitution_svc.constitution_draft(constitution=version.constitution)  # copies the three

    withdrawal = withdraw(participant)

    assert list(Principle.objects.values_list("name", flat=True)) == ["Staff rule"]
    assert [(e.position, e.name) for e in draft.entries.order_by("position")] == [(0, "Staff rule")]
    entries = list(version.entries.order_by("position").values_list("position", "name", "definition",
                                                                     "negated_definition", "principle_id"))
    note = (ConstitutionRedaction.NAME, ConstitutionRedaction.TEXT, "", None)
    assert entries == [(0, "Staff rule", "Be kind.", "", other.pk), (1, *note), (2, *note)]
    assert list(ConstitutionRedaction.objects.values_list("version_id", "position")) == [(version.pk, 1),
                                                                                         (version.pk, 2)]
    assert [(e.version_id, e.position, e.definition) for e in withdrawal.entries_redacted] == [
        (version.pk, 1, "Say what you do not know."), (version.pk, 2, "From my value.")]
    # What a reader and a trainer get: the note on the page, and no note as a principle.
    shown = constitution_versions(constitution=version.constitution)
    assert [bool(e.redacted_at) for e in next(v for v in shown if v.pk == version.pk).entries.all()] == [
        False, True, True]
    assert [e["name"] for e in constitution_source(version_id=version.pk)["entries"]] == ["Staff rule"]
    assert "Removed" not in constitution_version_salmon_json(version=version)
    assert Statement.objects.count() == 0


def test_a_principle_from_a_value_they_only_shaped_goes_too(participant, embedded):
    """A re-worded value's principle was drafted by the LLM from the old wording."""
    campaign = participant.campaign
    shared = value(campaign)
    card_of(participant, shared, method="new")
    card_of(person(campaign), shared, title="Other Words", policies=["OTHER a", "OTHER b", "OTHER c"])
    constitution_svc.principle_create(name="Drafted", definition="From the old words.", source_value=shared,
                                      provenance=Principle.Provenance.FROM_VALUE, status=Principle.Status.PROPOSED)
    withdraw(participant)
    assert not Principle.objects.exists() and CanonicalCard.objects.filter(pk=shared.pk).exists()


def test_the_database_refuses_any_other_change_to_a_published_entry():
    other = constitution_svc.principle_create(name="Staff rule", definition="Be kind.")
    version = published(other)
    entry = version.entries.get()

    def refused(change, flag=False):
        with pytest.raises(IntegrityError, match="is published"), transaction.atomic():
            if flag:
                with connection.cursor() as cursor:
                    cursor.execute("SET LOCAL chorus.withdrawal = 'on'")
            change()

    note = {"name": ConstitutionRedaction.NAME, "definition": ConstitutionRedaction.TEXT, "negated_definition": ""}
    entries = ConstitutionEntry.objects.filter(pk=entry.pk)
    refused(lambda: entries.update(**note))  # the note itself, without the withdrawal's setting
    refused(lambda: entries.update(name="Edited", definition="Be rude."), flag=True)  # other text, even with it
    refused(lambda: entries.update(**note, position=5), flag=True)
    refused(lambda: entries.update(**note, weight=3), flag=True)
    refused(lambda: entries.delete(), flag=True)
    refused(lambda: ConstitutionEntry.objects.create(version=version, position=1, **note), flag=True)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL chorus.withdrawal = 'on'")
        assert entries.update(**note) == 1
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL chorus.withdrawal = 'off'")
        refused(lambda: entries.update(definition="Changed again."))
    assert ConstitutionEntry.objects.get(pk=entry.pk).definition == ConstitutionRedaction.TEXT


def test_the_withdrawal_setting_does_not_outlive_the_redaction(participant, embedded):
    campaign = statement_campaign(participant)
    statement = statement_svc.statement_submit(participant=participant, text="Say what you do not know.")
    version = published(statement_svc.statement_promote(statement=statement, name="Admit uncertainty"),
                        constitution_svc.principle_create(name="Staff rule", definition="Be kind."))
    withdraw(participant)
    assert campaign.pk
    with pytest.raises(IntegrityError, match="is published"), transaction.atomic():
        version.entries.filter(position=1).update(name=ConstitutionRedaction.NAME,
                                                  definition=ConstitutionRedaction.TEXT, negated_definition="")


# Snapshots, the cache, the signal ------------------------------------------------------------------------


def test_graph_redact_drops_deleted_values_edges_and_contexts_and_rewords():
    summary = {
        "values": [{"id": 1, "title": "Mine", "description": "d", "policies": ["A b"], "pageRank": 0.2},
                   {"id": 2, "title": "Shared", "description": "d", "policies": ["A b"], "pageRank": 0.3},
                   {"id": 3, "title": "Peer", "description": "d", "policies": ["A b"], "pageRank": 0.5}],
        "edges": [{"sourceValueId": 1, "wiserValueId": 3, "contexts": [10], "counts": {}},
                  {"sourceValueId": 2, "wiserValueId": 3, "contexts": [10, 11], "counts": {}},
                  {"sourceValueId": 3, "wiserValueId": 2, "contexts": [11], "counts": {}}],
        "contexts": {"10": "When kept", "11": "When mine"}, "asOf": "x", "voteCount": 9,
    }
    result = graph_redact(summary, GraphRedaction(values_deleted=frozenset({1}), contexts_deleted=frozenset({11}),
                                                  values_reworded={2: {"title": "New", "description": "n",
                                                                       "policies": ["B c"]}}))
    assert [v["id"] for v in result.summary["values"]] == [2, 3]
    assert result.summary["values"][0] == {"id": 2, "title": "New", "description": "n", "policies": ["B c"],
                                           "pageRank": 0.3}
    assert [(e["sourceValueId"], e["contexts"]) for e in result.summary["edges"]] == [(2, [10])]
    assert result.summary["contexts"] == {"10": "When kept"} and result.summary["voteCount"] == 9
    assert (result.rows_removed, result.rows_reworded) == (1 + 2 + 1, 1)
    assert summary["values"][1]["title"] == "Shared"  # the input is left as it was


def test_snapshots_lose_deleted_values_and_take_new_wording(participant, embedded):
    campaign = participant.campaign
    peers = seed_peer_values(campaign.questions.get(), stories=0)
    context = campaign.contexts.get()
    gone, shared = value(campaign, title="Gone Value"), value(campaign, title="Shared Value")
    card_of(participant, gone, method="new")
    card_of(participant, shared, method="new")
    card_of(person(campaign), shared, title="Other Words", policies=["OTHER a", "OTHER b", "OTHER c"])
    context.cards.add(gone, shared)
    for _ in range(3):
        voter = person(campaign)
        for a, b in ((peers[0], gone), (peers[1], shared)):
            EdgeVote.objects.create(campaign=campaign, participant=voter, from_card=a, to_card=b, context=context,
                                    relationship="upgrade", created_at=timezone.now())
    snapshot = graph_snapshot_create(campaign=campaign)
    assert {v["title"] for v in snapshot.summary["values"]} >= {"Gone Value", "Shared Value"}

    withdrawal = withdraw(participant)

    snapshot.refresh_from_db()
    titles = {v["id"]: v["title"] for v in snapshot.summary["values"]}
    assert gone.pk not in titles and titles[shared.pk] == "Other Words"
    assert all(gone.pk not in (e["sourceValueId"], e["wiserValueId"]) for e in snapshot.summary["edges"])
    assert withdrawal.snapshot_ids == {snapshot.pk}
    assert GraphSnapshot.objects.get(pk=snapshot.pk).vote_count == 6  # counted as frozen


def test_the_cached_opinion_groups_forget_their_statement(participant, django_capture_on_commit_callbacks):
    from django.core.cache import cache

    from elicitation.selectors.statements import _groups_key

    campaign = statement_campaign(participant)
    statement_svc.statement_submit(participant=participant, text="Parks for everyone.")
    other = person(campaign)
    statement_svc.statement_submit(participant=other, text="Libraries open late.")
    assert {r.statement.text for r in statement_groups(campaign=campaign).ranked} == {
        "Parks for everyone.", "Libraries open late."}
    assert cache.get(_groups_key(campaign)) is not None
    with django_capture_on_commit_callbacks(execute=True):
        withdraw(participant)
    assert cache.get(_groups_key(campaign)) is None
    assert [r.statement.text for r in statement_groups(campaign=campaign).ranked] == ["Libraries open late."]


def test_withdrawal_is_sent_once_to_receivers_inside_the_transaction(participant, embedded):
    from elicitation.domain.comparisons_exports import pseudonym

    received = []

    def receiver(sender, *, withdrawal, **kwargs):
        received.append((withdrawal, connection.in_atomic_block,
                         Participant.objects.filter(pk=participant.pk).exists()))

    participant_withdrawn.connect(receiver)
    try:
        withdrawal = withdraw(participant)
        assert withdraw(participant) is None  # a second submit: nothing left, nothing sent
    finally:
        participant_withdrawn.disconnect(receiver)
    assert received == [(withdrawal, True, False)]
    assert isinstance(withdrawal, Withdrawal) and withdrawal.pseudonym == pseudonym(participant.public_id)


def test_a_failing_receiver_rolls_the_whole_withdrawal_back(participant, embedded):
    mine = value(participant.campaign)
    card_of(participant, mine, method="new")

    def receiver(sender, **kwargs):
        raise RuntimeError("disk full")

    participant_withdrawn.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            withdraw(participant)
    finally:
        participant_withdrawn.disconnect(receiver)
    assert Participant.objects.filter(pk=participant.pk).exists() and CanonicalCard.objects.filter(pk=mine.pk).exists()


def test_the_consent_text_says_what_withdrawal_deletes():
    from tests.factories import CampaignFactory

    text = CampaignFactory().consent_text
    for promise in ("deletes everything you contributed", "values and principles written in your words",
                    "datasets already prepared for training", "note saying an entry was removed",
                    "not retrained"):
        assert promise in text
