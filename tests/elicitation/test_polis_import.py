"""Importing a real Polis export, and computing its opinion groups the way Polis did."""
import csv
import itertools

import numpy as np
import pytest
from django.core.cache.backends.dummy import DummyCache
from django.core.exceptions import ValidationError
from django.core.management import call_command

from elicitation.domain.statements_polis import ExportFile
from elicitation.models import Campaign, Statement, StatementVote
from elicitation.selectors import statements as selectors_statements
from elicitation.selectors.statements import campaign_vote_matrix, statement_groups
from elicitation.services.statements import polis_import
from tests.support.shared_data import POLIS_EXPORT, needs_polis_export, shared_data

EXPORT = shared_data(POLIS_EXPORT)

pytestmark = pytest.mark.django_db


def export_file(name: str) -> ExportFile:
    return ExportFile(name=name, data=(EXPORT / name).read_bytes())


def import_real():
    return polis_import(comments=export_file("comments.csv"), votes=export_file("votes.csv"), title="$15/hour")


def polis_matrix() -> dict[str, dict[str, str]]:
    """participants-votes.csv: each participant's group-id and their (latest) vote per comment."""
    with open(EXPORT / "participants-votes.csv", newline="") as f:
        return {row["participant"]: row for row in csv.DictReader(f)}


@needs_polis_export
def test_every_vote_is_imported_as_polis_counts_it():
    summary = import_real()
    with open(EXPORT / "votes.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    pairs = {(r["voter-id"], r["comment-id"]) for r in rows}
    assert summary.vote_rows == len(rows) == 2995
    assert summary.votes == len(pairs) == StatementVote.objects.count()
    assert summary.statements == Statement.objects.count() == 54
    print(f"\n{len(rows)} vote rows, {len(pairs)} votes ({summary.superseded} changed later by the same voter)")

    # Each stored vote is the one Polis' own participants-votes.csv shows, and no cell is missing.
    stored = {(v.external_voter_id, v.statement.external_id): v.choice
              for v in StatementVote.objects.select_related("statement")}
    expected = {}
    for pid, row in polis_matrix().items():
        for comment in Statement.objects.values_list("external_id", flat=True):
            if row[comment] != "":
                expected[(pid, comment)] = int(row[comment])
    assert stored == expected

    with open(EXPORT / "comments.csv", newline="") as f:
        moderated = {r["comment-id"]: r["moderated"] for r in csv.DictReader(f)}
    status = dict(Statement.objects.values_list("external_id", "status"))
    assert all(status[c] == {"-1": "rejected", "0": "pending", "1": "accepted"}[m] for c, m in moderated.items())
    campaign = summary.campaign
    assert campaign.status == Campaign.Status.CLOSED and campaign.activities == ["principles"]


def best_agreement(ours: list[int], theirs: list[int]) -> float:
    labels = max(max(ours), max(theirs)) + 1
    return max(
        np.mean([mapping[a] == b for a, b in zip(ours, theirs)])
        for mapping in itertools.permutations(range(labels))
    )


@needs_polis_export
def test_groups_agree_with_the_exports_group_ids():
    summary = import_real()
    matrix = campaign_vote_matrix(campaign=summary.campaign)
    from elicitation.domain.statements import opinion_groups

    groups = opinion_groups(matrix.votes, matrix.moderated_out)
    polis = polis_matrix()
    clustered = {v[1:] for v, inside in zip(matrix.voters, groups.in_conv) if inside}
    assert clustered == {pid for pid, row in polis.items() if row["group-id"] != ""}  # the same 138 of 339

    ours, theirs = [], []
    for voter, label in zip(matrix.voters, groups.labels):
        if label >= 0:
            ours.append(int(label))
            theirs.append(int(polis[voter[1:]]["group-id"]))
    agreement = best_agreement(ours, theirs)
    print(f"\nPolis group agreement: {agreement:.1%} of {len(ours)} participants "
          f"(ours {np.bincount(ours).tolist()}, Polis {np.bincount(theirs).tolist()}; k={groups.k})")
    assert groups.k == 2
    assert agreement >= 0.95


@needs_polis_export
def test_consensus_ranking_is_polis_formula_and_deterministic(monkeypatch):
    monkeypatch.setattr(selectors_statements, "cache", DummyCache("none", {}))  # compute twice
    summary = import_real()
    first = statement_groups(campaign=summary.campaign)
    second = statement_groups(campaign=summary.campaign)
    order = [r.statement.pk for r in first.ranked]
    assert order == [r.statement.pk for r in second.ranked]
    assert [r.consensus for r in first.ranked] == [r.consensus for r in second.ranked]
    assert all(a.consensus >= b.consensus for a, b in zip(first.ranked, first.ranked[1:]))
    assert Statement.objects.filter(campaign=summary.campaign, status="rejected").count() == 23
    assert len(order) == 54 - 23  # moderated-out statements are not ranked

    # The top statement's score, by hand from the stored votes and the groups drawn on the page.
    top = first.ranked[0]
    matrix = campaign_vote_matrix(campaign=summary.campaign)
    from elicitation.domain.statements import opinion_groups

    labels = opinion_groups(matrix.votes, matrix.moderated_out).labels
    column = matrix.votes[:, [s.pk for s in matrix.statements].index(top.statement.pk)]
    by_hand = 1.0
    for g in range(labels.max() + 1):
        in_group = column[labels == g]
        by_hand *= (np.sum(in_group == 1) + 1) / (np.sum(~np.isnan(in_group)) + 2)
    assert top.consensus == pytest.approx(by_hand)
    assert sum(group.size for group in first.groups) == first.in_conversation == 138


@needs_polis_export
def test_management_command_imports_the_folder(capsys):
    call_command("import_polis", str(EXPORT))
    out = capsys.readouterr().out
    assert "54 statements" in out and "2872 votes by 339 voters" in out
    assert Campaign.objects.get().title == "$15/hour"


def bad_votes(lines: list[str]) -> ExportFile:
    return ExportFile(name="votes.csv", data=b"timestamp,datetime,comment-id,voter-id,vote\n" + "\n".join(lines).encode())


@needs_polis_export
@pytest.mark.parametrize("lines, problem", [
    (["1403054214196,x,0,0,2"], "votes.csv line 2: vote must be -1 (disagree), 0 (pass) or 1 (agree), got '2'"),
    (["1403054214196,x,0,0,1", "1403054214196,x,999,5,1"], "votes.csv line 3: comment-id 999 is not a comment"),
    (["1403054214196,x,0,abc,1"], "votes.csv line 2: voter-id must be a whole number, got 'abc'"),
    (["soon,x,0,3,1"], "votes.csv line 2: timestamp must be milliseconds since 1970, got 'soon'"),
    (["1403054214196,x,0,3"], "votes.csv line 2: has 4 fields, the header has 5"),
])
def test_a_bad_vote_row_refuses_the_whole_import(lines, problem):
    with pytest.raises(ValidationError) as refused:
        polis_import(comments=export_file("comments.csv"), votes=bad_votes(lines), title="Bad")
    assert any(m.startswith(problem) for m in refused.value.messages), refused.value.messages
    assert not Campaign.objects.exists() and not Statement.objects.exists() and not StatementVote.objects.exists()


def test_bad_comments_are_refused_with_line_and_field():
    comments = ExportFile(name="comments.csv", data=(
        b"timestamp,datetime,comment-id,author-id,agrees,disagrees,moderated,comment-body\n"
        b"1,x,0,1,0,0,1,Fine\n"
        b"2,x,0,1,0,0,1,Same id again\n"
        b"3,x,1,1,0,0,7,Odd moderation\n"
        b"4,x,2,1,0,0,1,\n"
    ))
    with pytest.raises(ValidationError) as refused:
        polis_import(comments=comments, votes=bad_votes(["1,x,0,1,1"]), title="Bad")
    assert refused.value.messages == [
        "comments.csv line 3: comment-id 0 appears twice (first on line 2)",
        "comments.csv line 4: moderated must be -1, 0 or 1, got '7'",
        "comments.csv line 5: comment-body is empty",
    ]
    assert not Campaign.objects.exists()


def test_files_that_are_not_polis_exports_are_refused():
    with pytest.raises(ValidationError) as refused:
        polis_import(comments=ExportFile("comments.csv", b"\xff\xfe\x00garbage"),
                     votes=ExportFile("votes.csv", b"a,b\n1,2\n"), title="Bad")
    assert refused.value.messages == [
        "comments.csv: is not UTF-8 text (byte 0)",
        ("votes.csv line 1: the header lacks timestamp, comment-id, voter-id, vote "
         "(a Polis export's votes.csv has timestamp, comment-id, voter-id, vote)"),
    ]
