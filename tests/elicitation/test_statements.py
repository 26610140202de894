"""Statement voting: submitting, voting, moderating, promoting; opinion groups on synthetic camps."""
import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from elicitation.domain.statements import group_aware_consensus, opinion_groups, silhouette
from elicitation.models import Campaign, Principle, Statement, StatementVote
from elicitation.selectors.statements import statement_groups, statement_next
from elicitation.services import statements as svc
from elicitation.services.campaigns import CampaignClosed
from tests.factories import CampaignFactory, make_participant

pytestmark = pytest.mark.django_db


@pytest.fixture
def campaign():
    return CampaignFactory(activities=["principles"])


def person(campaign):
    return make_participant(campaign)


def test_a_statement_is_its_authors_agree_vote(campaign):
    author = person(campaign)
    statement = svc.statement_submit(participant=author, text="  Minimum   wages should\nrise with rents. ")
    assert statement.text == "Minimum wages should rise with rents." and statement.status == "pending"
    assert StatementVote.objects.get().choice == StatementVote.Choice.AGREE
    assert statement_next(participant=author) is None  # nothing left for the author to vote on
    assert statement_next(participant=person(campaign)) == statement


@pytest.mark.parametrize("text, message", [
    ("", "Write a statement before sending it."),
    ("   \n ", "Write a statement before sending it."),
    ("x" * 401, "A statement has at most 400 characters; this one has 401. Please shorten it."),
])
def test_empty_and_oversized_statements_are_refused(campaign, text, message):
    with pytest.raises(ValidationError) as refused:
        svc.statement_submit(participant=person(campaign), text=text)
    assert refused.value.message_dict == {"text": [message]}
    assert not Statement.objects.exists()


def test_a_duplicate_statement_is_refused(campaign):
    svc.statement_submit(participant=person(campaign), text="Wages should rise.")
    with pytest.raises(ValidationError, match="written this statement already"):
        svc.statement_submit(participant=person(campaign), text="wages SHOULD rise.")


def test_statements_need_an_open_campaign_that_asks_for_them(campaign):
    closed = CampaignFactory(activities=["principles"], status=Campaign.Status.CLOSED)
    with pytest.raises(CampaignClosed):
        svc.statement_submit(participant=person(closed), text="Too late.")
    other = CampaignFactory(activities=["interview"])
    with pytest.raises(CampaignClosed):
        svc.statement_submit(participant=person(other), text="Not asked.")


def test_one_vote_per_participant_and_statement_the_latest_counts(campaign):
    statement = svc.statement_submit(participant=person(campaign), text="Wages should rise.")
    voter = person(campaign)
    svc.statement_vote_cast(participant=voter, statement=statement, choice="disagree")
    svc.statement_vote_cast(participant=voter, statement=statement, choice="pass")
    assert StatementVote.objects.get(participant=voter).choice == StatementVote.Choice.PASS
    with pytest.raises(IntegrityError), transaction.atomic():
        StatementVote.objects.create(statement=statement, participant=voter, choice=1)
    with pytest.raises(ValidationError):
        svc.statement_vote_cast(participant=voter, statement=statement, choice="maybe")
    elsewhere = person(CampaignFactory(activities=["principles"]))
    with pytest.raises(ValidationError, match="another study"):
        svc.statement_vote_cast(participant=elsewhere, statement=statement, choice="agree")


def test_rejected_statements_are_not_voted_on_ranked_or_promoted(campaign):
    author, voter = person(campaign), person(campaign)
    spam = svc.statement_submit(participant=author, text="Buy cheap watches.")
    svc.statement_moderate(statement=spam, status="rejected")
    assert statement_next(participant=voter) is None
    with pytest.raises(ValidationError, match="removed by a moderator"):
        svc.statement_vote_cast(participant=voter, statement=spam, choice="agree")
    assert statement_groups(campaign=campaign).ranked == []
    with pytest.raises(ValidationError):
        svc.statement_promote(statement=spam, name="Spam")


def test_a_statement_is_promoted_to_an_approved_principle_once(campaign):
    statement = svc.statement_submit(participant=person(campaign), text="The AI should say when it is unsure.")
    principle = svc.statement_promote(statement=statement, name="Admit Uncertainty", consensus=0.81234)
    statement.refresh_from_db()
    assert statement.status == "accepted"
    assert (principle.provenance, principle.status, principle.definition) == (
        "from_statement", "approved", "The AI should say when it is unsure.")
    assert principle.source_statement == statement and "0.812" in principle.source_note
    with pytest.raises(ValidationError, match="already"):
        svc.statement_promote(statement=statement, name="Again")
    assert Principle.objects.count() == 1


def test_withdrawing_deletes_a_participants_statements_and_votes(campaign):
    author = person(campaign)
    statement = svc.statement_submit(participant=author, text="Mine.")
    other = svc.statement_submit(participant=person(campaign), text="Theirs.")
    svc.statement_vote_cast(participant=author, statement=other, choice="agree")
    author.delete()
    assert not Statement.objects.filter(pk=statement.pk).exists()
    assert StatementVote.objects.filter(participant_id=author.pk).count() == 0


# Opinion groups on synthetic data --------------------------------------------------------------


def two_camps(rng, n=60, statements=20, missing=0.3):
    """Half agree with the first half of the statements and disagree with the rest; the other half the opposite."""
    camp = np.repeat([0, 1], n // 2)
    stance = np.where(np.arange(statements) < statements // 2, 1.0, -1.0)
    votes = np.where(camp[:, None] == 0, stance, -stance)
    noise = rng.random(votes.shape) < 0.1
    votes[noise] = -votes[noise]
    votes[rng.random(votes.shape) < missing] = np.nan
    return votes, camp


def test_two_opinion_camps_are_found():
    votes, camp = two_camps(np.random.default_rng(3))
    groups = opinion_groups(votes)
    assert groups.k == 2 and groups.in_conv.all()
    matched = np.mean(groups.labels == camp)
    assert max(matched, 1 - matched) == 1.0
    assert groups.silhouettes[2] == max(groups.silhouettes.values())


def test_the_groups_do_not_depend_on_row_order():
    votes, _ = two_camps(np.random.default_rng(4))
    groups = opinion_groups(votes)
    order = np.random.default_rng(5).permutation(len(votes))
    shuffled = opinion_groups(votes[order])
    assert np.array_equal(shuffled.labels, groups.labels[order])  # labels by group size, so equal, not just matched


def test_sparse_voters_are_scaled_out_and_small_ones_left_out():
    votes, _ = two_camps(np.random.default_rng(6), missing=0.0)
    votes[0, 3:] = np.nan  # 3 votes: below 7, so not clustered (enough others are)
    votes[1, 10:] = np.nan  # 10 votes, all the camp's
    groups = opinion_groups(votes)
    assert not groups.in_conv[0] and groups.labels[0] == -1 and groups.in_conv[1]
    full = np.linalg.norm(groups.projection[2:30], axis=1).mean()
    # Without the sqrt(20 / 10) scaling, half the votes would land about half as far out.
    assert np.linalg.norm(groups.projection[1]) > 0.8 * full


def test_moderated_out_statements_carry_no_weight():
    votes, camp = two_camps(np.random.default_rng(7), missing=0.0)
    # A statement that splits people along another line entirely.
    odd = np.where(np.arange(len(votes)) % 2 == 0, 1.0, -1.0)
    with_odd = np.column_stack([votes, odd, odd, odd, odd, odd, odd, odd, odd, odd, odd, odd, odd])
    out = np.zeros(with_odd.shape[1], dtype=bool)
    out[votes.shape[1]:] = True
    groups = opinion_groups(with_odd, out)
    matched = np.mean(groups.labels == camp)
    assert max(matched, 1 - matched) == 1.0


def test_few_voters_still_get_a_picture():
    votes = np.array([[1.0, -1, np.nan], [-1, 1, 1]])  # two people, fewer than 7 statements and 15 voters
    groups = opinion_groups(votes)
    assert groups.in_conv.all() and groups.k == 2
    assert opinion_groups(np.full((0, 3), np.nan)).k == 0


def test_group_aware_consensus_is_polis_formula():
    votes = np.array([
        [1, 1, -1], [1, np.nan, -1],  # group 0
        [1, -1, 1], [0, -1, 1], [1, -1, np.nan],  # group 1
    ])
    labels = np.array([0, 0, 1, 1, 1])
    expected = [
        (2 + 1) / (2 + 2) * (2 + 1) / (3 + 2),
        (1 + 1) / (1 + 2) * (0 + 1) / (3 + 2),
        (0 + 1) / (2 + 2) * (2 + 1) / (2 + 2),
    ]
    assert group_aware_consensus(votes, labels) == pytest.approx(expected)
    # People outside the groups do not count.
    assert group_aware_consensus(np.vstack([votes, [1, 1, 1]]), np.append(labels, -1)) == pytest.approx(expected)


def test_silhouette_matches_the_textbook_definition():
    points = np.random.default_rng(8).normal(size=(30, 2))
    labels = (points[:, 0] > 0).astype(int)
    labels[0] = 2  # a cluster of one scores 0
    distances = np.linalg.norm(points[:, None] - points[None], axis=2)
    scores = []
    for i, own in enumerate(labels):
        mates = [j for j in range(30) if labels[j] == own and j != i]
        if not mates:
            scores.append(0.0)
            continue
        a = np.mean(distances[i, mates])
        b = min(np.mean(distances[i, labels == other]) for other in set(labels) - {own})
        scores.append((b - a) / max(a, b))
    assert silhouette(distances, labels) == pytest.approx(np.mean(scores))


def test_groups_page_data_ranks_by_consensus_and_marks_you(campaign):
    people = [person(campaign) for _ in range(4)]
    shared = svc.statement_submit(participant=people[0], text="Everyone likes parks.")
    split = svc.statement_submit(participant=people[1], text="Taxes should rise.")
    for p in people[1:]:
        svc.statement_vote_cast(participant=p, statement=shared, choice="agree")
    for p, choice in zip(people, ["disagree", "agree", "agree", "disagree"]):
        if p != people[1]:
            svc.statement_vote_cast(participant=p, statement=split, choice=choice)
    view = statement_groups(campaign=campaign, participant=people[2])
    assert [r.statement for r in view.ranked] == [shared, split]
    assert view.ranked[0].agrees == 4 and view.ranked[1].disagrees == 2
    assert view.voters == view.in_conversation == 4 and view.votes == 8
    assert sum(p.is_you for p in view.points) == 1
    assert all(0 <= p.x <= 400 and 0 <= p.y <= 400 for p in view.points)


def test_a_slow_computation_is_reused_for_a_while_as_votes_come_in(campaign, monkeypatch):
    from django.core.cache.backends.locmem import LocMemCache

    from elicitation.selectors import statements as selectors_statements

    monkeypatch.setattr(selectors_statements, "cache", LocMemCache("groups", {}))
    people = [person(campaign) for _ in range(3)]
    statement = svc.statement_submit(participant=people[0], text="Parks.")
    assert statement_groups(campaign=campaign).votes == 1
    monkeypatch.setattr(selectors_statements, "STALENESS", 1e9)  # as if computing took very long
    svc.statement_vote_cast(participant=people[1], statement=statement, choice="agree")
    assert statement_groups(campaign=campaign).votes == 1  # the last result, for now
    monkeypatch.setattr(selectors_statements, "STALENESS", 0)
    assert statement_groups(campaign=campaign).votes == 2
    svc.statement_vote_cast(participant=people[2], statement=statement, choice="agree")
    assert statement_groups(campaign=campaign).votes == 3


def test_the_vote_matrix_leaves_out_a_statement_written_while_it_is_read(campaign, monkeypatch):
    """Statements and votes are two queries: a statement and its author's vote committed between them
    (any busy campaign) belong to the next matrix, not a KeyError in this one."""
    from elicitation.selectors import statements as selectors

    first = svc.statement_submit(participant=make_participant(campaign), text="Read before the votes")
    real_filter = StatementVote.objects.filter

    def votes_after_a_new_statement(*args, **kwargs):
        svc.statement_submit(participant=make_participant(campaign), text="Written in between")
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(selectors.StatementVote.objects, "filter", votes_after_a_new_statement)
    matrix = selectors.campaign_vote_matrix(campaign=campaign)
    assert [s.pk for s in matrix.statements] == [first.pk] and matrix.votes.shape == (1, 1)
