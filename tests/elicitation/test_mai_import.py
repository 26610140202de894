"""Importing a Meaning Alignment Institute study: valid files become a closed campaign whose graph
Chorus can compute; a vote repeated in the file counts once; one bad row anywhere refuses both files
and writes nothing."""
from __future__ import annotations

import csv
import json
from datetime import UTC, datetime, timedelta, timezone
from io import StringIO
from pathlib import Path

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import IntegrityError

from elicitation.domain import moral_graph_mai as mai_import
from elicitation.domain.moral_graph_mai import StudyFile
from elicitation.models import Campaign, CanonicalCard, Context, EdgeVote, Question, UpgradeStory
from elicitation.selectors.moral_graph import graph_compute
from elicitation.services.moral_graph import mai_study_import

pytestmark = pytest.mark.django_db

# As dft's CanonicalValuesCard rows come out of JSON.stringify.
VALUES = [
    {"id": 11, "title": "Informed Autonomy", "instructionsShort": "Helping her decide with full information.",
     "instructionsDetailed": "ChatGPT can foster...", "evaluationCriteria": ["FACTS about each option", "CHOICES she owns"]},
    {"id": 12, "title": "Care For Wellbeing", "instructionsShort": "Looking after her health and safety.",
     "instructionsDetailed": "", "evaluationCriteria": ["RISKS to her health", "DOCTORS she can trust"]},
    {"id": 13, "title": "Honest Conversation", "instructionsShort": "Talking openly without judgement.",
     "instructionsDetailed": "", "evaluationCriteria": ["QUESTIONS she is afraid to ask"]},
]
LIFE = "When a person faces a choice that shapes their life"
DISTRESS = "When someone is in distress"
STORY = "I used to think facts were enough. Then I saw she needed to feel safe first."
EDGE_HEADER = ["userId", "fromId", "toId", "contextId", "relationship", "story", "comment", "createdAt", "updatedAt"]
# As Prisma writes the Edge table: extra columns, empty comments, UTC and offset timestamps.
EDGES = [
    ["1", "11", "12", LIFE, "upgrade", STORY, "", "2023-10-05T10:00:00.000Z", "2023-10-05T10:00:00.000Z"],
    ["2", "11", "12", LIFE, "upgrade", STORY, "makes sense", "2023-10-05T11:00:00.000Z", ""],
    ["3", "11", "12", LIFE, "not_sure", STORY, "", "2023-10-06T09:30:00.000Z", ""],
    ["1", "12", "13", DISTRESS, "no_upgrade", "", "", "2023-10-07 08:00:00.123", ""],
    ["2", "12", "13", LIFE, "upgrade", "Another story.", "", "2023-10-07T09:00:00+02:00", ""],
]


def write_json(path: Path, data) -> Path:
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def study_files(tmp_path: Path, *, values=VALUES, header=EDGE_HEADER, edges=EDGES) -> tuple[Path, Path]:
    return write_json(tmp_path / "values.json", values), write_csv(tmp_path / "edges.csv", header, edges)


def run_import(values: Path, edges: Path, **kwargs):
    return mai_study_import(
        title=kwargs.pop("title", "MAI 2023"),
        values=StudyFile(name=values.name, content=values.read_bytes()),
        edges=StudyFile(name=edges.name, content=edges.read_bytes()),
        **kwargs,
    )


def assert_nothing_written():
    for model in (Campaign, Question, CanonicalCard, Context, UpgradeStory, EdgeVote):
        assert not model.objects.exists(), model.__name__


def test_valid_import_creates_a_closed_campaign_with_counts(tmp_path):
    summary = run_import(*study_files(tmp_path), questions=["What should she do?"])

    campaign = summary.campaign
    assert (summary.values, summary.contexts, summary.votes, summary.voters, summary.stories) == (3, 2, 5, 3, 2)
    assert summary.repeats == 0
    assert campaign.status == Campaign.Status.CLOSED and campaign.activities == []
    assert [q.text for q in campaign.questions.all()] == ["What should she do?"]
    cards = {c.external_id: c for c in CanonicalCard.objects.filter(campaign=campaign)}
    assert set(cards) == {"11", "12", "13"}
    assert cards["11"].title == "Informed Autonomy"
    assert cards["11"].description == "Helping her decide with full information."
    assert cards["11"].policies == ["FACTS about each option", "CHOICES she owns"]
    assert cards["11"].instructions_detailed == "ChatGPT can foster..."
    assert cards["12"].instructions_detailed == ""
    assert EdgeVote.objects.filter(campaign=campaign).count() == 5


def test_contexts_are_deduplicated_by_text_and_apply_to_the_values_voted_on(tmp_path):
    campaign = run_import(*study_files(tmp_path)).campaign

    contexts = {c.text: c for c in Context.objects.filter(campaign=campaign)}
    assert set(contexts) == {LIFE, DISTRESS}
    assert {c.external_id for c in contexts[LIFE].cards.all()} == {"11", "12", "13"}
    assert {c.external_id for c in contexts[DISTRESS].cards.all()} == {"12", "13"}
    assert EdgeVote.objects.filter(context=contexts[LIFE]).count() == 4


def test_imported_votes_keep_their_time_and_voter_and_have_no_participant(tmp_path):
    campaign = run_import(*study_files(tmp_path)).campaign

    votes = EdgeVote.objects.filter(campaign=campaign).select_related("from_card", "to_card")
    assert all(v.participant_id is None for v in votes)
    by_key = {(v.external_user_id, v.from_card.external_id, v.to_card.external_id): v for v in votes}
    assert by_key["1", "11", "12"].created_at == datetime(2023, 10, 5, 10, tzinfo=UTC)
    # No offset: UTC, as Prisma stores it. An offset is kept as the same instant.
    assert by_key["1", "12", "13"].created_at == datetime(2023, 10, 7, 8, 0, 0, 123000, tzinfo=UTC)
    assert by_key["2", "12", "13"].created_at == datetime(2023, 10, 7, 7, tzinfo=UTC)
    assert by_key["2", "11", "12"].comment == "makes sense"
    assert by_key["3", "11", "12"].relationship == "not_sure"


def test_one_story_per_edge_and_context_and_votes_point_to_it(tmp_path):
    campaign = run_import(*study_files(tmp_path)).campaign

    stories = UpgradeStory.objects.filter(campaign=campaign)
    assert sorted(s.story for s in stories) == ["Another story.", STORY]
    story = stories.get(story=STORY)
    assert story.votes.count() == 3
    assert EdgeVote.objects.get(external_user_id="1", context__text=DISTRESS).story is None


def test_imported_study_gives_the_moral_graph(tmp_path):
    campaign = run_import(*study_files(tmp_path)).campaign

    graph = graph_compute(campaign=campaign).graph
    cards = dict(CanonicalCard.objects.filter(campaign=campaign).values_list("pk", "external_id"))
    # 11 -> 12: two "upgrade", one "not sure": likelihood 2/3, entropy 1.46; kept.
    assert [(cards[e.source_value_id], cards[e.wiser_value_id]) for e in graph.edges] == [("11", "12")]
    assert graph.edges[0].tally.marked_wiser == 2 and graph.edges[0].tally.marked_unsure == 1


def test_reads_the_later_app_spellings_and_table_dumps(tmp_path):
    """moral-graph-elicitation's names (description, policies, type), a MoralGraphSummary object,
    and CSV values whose policies are a PostgreSQL array literal, a JSON array or one per line."""
    values = write_csv(tmp_path / "values.csv", ["id", "title", "description", "policies", "deliberationId"], [
        ["11", "Informed Autonomy", "Full information.", '{"FACTS about each option","CHOICES she \\"owns\\""}', "1"],
        ["12", "Care For Wellbeing", "Health and safety.", '["RISKS to her health", "DOCTORS she can trust"]', "1"],
        ["13", "Honest Conversation", "Openly.", "QUESTIONS she is afraid to ask\nFEARS she can name\n", "1"],
    ])
    edges = write_json(tmp_path / "edges.json", {"edges": [
        {"userId": 7, "fromId": 11, "toId": 12, "contextId": LIFE, "type": "upgrade", "story": None,
         "comment": None, "createdAt": "2024-02-01T12:00:00.000Z", "deliberationId": 1},
        {"userId": 8, "fromId": 12, "toId": 13, "contextId": LIFE, "type": "no_upgrade", "story": "A story.",
         "comment": "hm", "createdAt": "2024-02-01T12:05:00.000Z", "deliberationId": 1},
    ]})
    summary = run_import(values, edges)

    policies = dict(CanonicalCard.objects.values_list("external_id", "policies"))
    assert policies == {
        "11": ["FACTS about each option", 'CHOICES she "owns"'],
        "12": ["RISKS to her health", "DOCTORS she can trust"],
        "13": ["QUESTIONS she is afraid to ask", "FEARS she can name"],
    }
    assert (summary.votes, summary.voters, summary.stories) == (2, 2, 1)
    assert set(EdgeVote.objects.values_list("external_user_id", "relationship")) == {("7", "upgrade"), ("8", "no_upgrade")}


def test_a_moral_graph_summary_is_read_as_values(tmp_path):
    values = write_json(tmp_path / "graph.json", {"values": [{**v, "pageRank": 0.3} for v in VALUES], "edges": []})
    assert run_import(values, study_files(tmp_path)[1]).values == 3


def _edges(change):
    rows = [list(r) for r in EDGES]
    change(rows)
    return rows


def _values(change):
    values = [dict(v) for v in VALUES]
    change(values)
    return values


def _set(rows, index, column, value):
    rows[index][EDGE_HEADER.index(column)] = value


MALFORMED = {
    "bad relationship": (
        {"edges": _edges(lambda r: _set(r, 1, "relationship", "yes"))},
        "edges.csv row 3: relationship must be upgrade, no_upgrade or not_sure, got 'yes'",
    ),
    "unknown fromId": (
        {"edges": _edges(lambda r: _set(r, 0, "fromId", "99"))},
        "edges.csv row 2: fromId 99 is not an id in values.json",
    ),
    "unknown toId": (
        {"edges": _edges(lambda r: _set(r, 4, "toId", "14"))},
        "edges.csv row 6: toId 14 is not an id in values.json",
    ),
    "bad date": (
        {"edges": _edges(lambda r: _set(r, 2, "createdAt", "05/10/2023"))},
        "edges.csv row 4: createdAt must be an ISO 8601 date and time, got '05/10/2023'",
    ),
    "missing date": (
        {"edges": _edges(lambda r: _set(r, 2, "createdAt", ""))},
        "edges.csv row 4: createdAt is missing",
    ),
    "missing column": (
        {"header": [h for h in EDGE_HEADER if h != "contextId"],
         "edges": [[c for i, c in enumerate(r) if EDGE_HEADER[i] != "contextId"] for r in EDGES]},
        ("edges.csv: missing column contextId (the header has userId, fromId, toId, relationship, story, comment, "
         "createdAt, updatedAt)."),
    ),
    "from equals to": (
        {"edges": _edges(lambda r: _set(r, 3, "toId", "12"))},
        "edges.csv row 5: fromId and toId are both 12; a value cannot be an upgrade of itself",
    ),
    "two answers at one moment": (
        {"edges": _edges(lambda r: r.append(list(r[1][:4]) + ["no_upgrade"] + list(r[1][5:])))},
        (f"edges.csv row 7: relationship no_upgrade contradicts upgrade at row 3: user 2 voted on 11 → 12 in context "
         f"'{LIFE}' twice at 2023-10-05T11:00:00+00:00, so neither answer is the latest; keep one of the two rows"),
    ),
    "instructionsDetailed not text": (
        {"values": _values(lambda v: v[0].update(instructionsDetailed=["ChatGPT can foster..."]))},
        "values.json item 1: instructionsDetailed must be text, got ['ChatGPT can foster...']",
    ),
    "short row": (
        {"edges": _edges(lambda r: r[2].pop())},
        "edges.csv row 4: has 8 cells, the header has 9",
    ),
    "missing user": (
        {"edges": _edges(lambda r: _set(r, 0, "userId", " "))},
        "edges.csv row 2: userId is missing",
    ),
    "context too long": (
        {"edges": _edges(lambda r: _set(r, 0, "contextId", "When " + "x" * 300))},
        "edges.csv row 2: contextId is longer than 300 characters",
    ),
    "duplicate value id": (
        {"values": _values(lambda v: v[1].update(id=11))},
        "values.json item 2: id 11 appears twice (first at item 1)",
    ),
    "value without title": (
        {"values": _values(lambda v: v[0].pop("title"))},
        "values.json item 1: title is missing",
    ),
    "value without policies": (
        {"values": _values(lambda v: v[2].update(evaluationCriteria=[" "]))},
        "values.json item 3: evaluationCriteria holds no policy",
    ),
    "policies not a list": (
        {"values": _values(lambda v: v[2].update(evaluationCriteria=7))},
        "values.json item 3: evaluationCriteria must be a list of policies (a JSON array of strings, or one per line)",
    ),
    "value not an object": (
        {"values": _values(lambda v: v.append("Honesty"))},
        "values.json item 4: must be a JSON object, got 'Honesty'",
    ),
}


@pytest.mark.parametrize(("files", "message"), MALFORMED.values(), ids=MALFORMED.keys())
def test_a_malformed_file_is_refused_with_row_and_field_and_nothing_is_written(tmp_path, files, message):
    with pytest.raises(ValidationError) as refused:
        run_import(*study_files(tmp_path, **files))

    assert message in refused.value.messages
    assert_nothing_written()


@pytest.mark.parametrize(("content", "message"), [
    (b"", "values.json: is empty."),
    (b"[{\"id\": 1,", "values.json: is not valid JSON (line 1, column 11: Expecting property name enclosed in double quotes)."),
    (b"\xff\xfeid", "values.json: is not UTF-8 text (byte 0 cannot be read)."),
    (b"[]", "values.json: holds no values."),
])
def test_an_unreadable_values_file_is_refused(tmp_path, content, message):
    (tmp_path / "values.json").write_bytes(content)
    edges = write_csv(tmp_path / "edges.csv", EDGE_HEADER, EDGES)

    with pytest.raises(ValidationError) as refused:
        run_import(tmp_path / "values.json", edges)

    # Edges are not checked against a values file that could not be read: only the real problem shows.
    assert refused.value.message_dict == {"values": [message]}
    assert_nothing_written()


def test_an_aggregated_graph_is_not_taken_for_votes(tmp_path):
    values = study_files(tmp_path)[0]
    edges = write_json(tmp_path / "edges.json", {"values": VALUES, "edges": [
        {"sourceValueId": 11, "wiserValueId": 12, "contexts": [LIFE], "counts": {}, "summary": {}}]})

    with pytest.raises(ValidationError, match="holds an aggregated graph"):
        run_import(values, edges)


def test_problems_in_both_files_are_reported_together_and_capped(tmp_path):
    values = _values(lambda v: v[0].update(title=""))
    edges = _edges(lambda r: r.extend([["9", "11", "12", LIFE, "maybe", "", "", "2023-10-05", ""]] * 30))

    with pytest.raises(ValidationError) as refused:
        run_import(*study_files(tmp_path, values=values, edges=edges))

    problems = refused.value.message_dict
    assert problems["values"] == ["values.json item 1: title is missing"]
    assert len(problems["edges"]) == mai_import.MAX_ERRORS + 1
    assert problems["edges"][0] == "edges.csv row 7: relationship must be upgrade, no_upgrade or not_sure, got 'maybe'"
    assert problems["edges"][-1] == f"edges.csv: stopped after {mai_import.MAX_ERRORS} problems."


def test_a_failure_while_writing_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(*args, **kwargs):
        raise IntegrityError("the database refused the votes")

    monkeypatch.setattr(EdgeVote.objects, "bulk_create", fail)
    with pytest.raises(IntegrityError):
        run_import(*study_files(tmp_path))

    assert_nothing_written()


def test_a_title_in_use_is_refused_before_anything_is_written(tmp_path):
    files = study_files(tmp_path)
    run_import(*files, title="Study")

    with pytest.raises(ValidationError) as refused:
        run_import(*files, title="Study")

    assert "exists already" in refused.value.message_dict["slug"][0]
    assert Campaign.objects.count() == 1 and EdgeVote.objects.count() == 5


def test_command_imports_and_prints_the_summary(tmp_path):
    values, edges = study_files(tmp_path)
    out = StringIO()

    call_command("import_mai", "--title", "MAI 2023", "--values", str(values), "--edges", str(edges),
                 "--question", "What should she do?", stdout=out)

    campaign = Campaign.objects.get()
    assert out.getvalue().strip() == (
        f"Imported “MAI 2023” as campaign {campaign.pk} (closed): 3 values, 2 contexts, 5 votes by 3 voters, 2 stories; "
        "0 repeated votes counted once."
    )
    assert campaign.questions.get().text == "What should she do?"


def test_command_refuses_a_malformed_file_with_one_line(tmp_path):
    values, edges = study_files(tmp_path, edges=_edges(lambda r: _set(r, 1, "relationship", "yes")))

    with pytest.raises(CommandError) as refused:
        call_command("import_mai", "--title", "MAI 2023", "--values", str(values), "--edges", str(edges))

    message = str(refused.value)
    assert message == ("Nothing was imported. edges.csv row 3: relationship must be upgrade, no_upgrade or not_sure, "
                       "got 'yes'")
    assert "\n" not in message
    assert_nothing_written()


def test_command_names_a_missing_file(tmp_path):
    values, _ = study_files(tmp_path)

    with pytest.raises(CommandError, match=r"Cannot read .*nope\.csv: No such file or directory\."):
        call_command("import_mai", "--title", "T", "--values", str(values), "--edges", str(tmp_path / "nope.csv"))


def test_timestamps_keep_their_instant_whatever_the_offset(tmp_path):
    edges = _edges(lambda r: _set(r, 0, "createdAt", "2023-10-05T12:00:00-05:00"))
    run_import(*study_files(tmp_path, edges=edges))

    vote = EdgeVote.objects.get(external_user_id="1", context__text=LIFE)
    assert vote.created_at == datetime(2023, 10, 5, 12, tzinfo=timezone(timedelta(hours=-5)))


# Repeated votes.

def _repeat(row: int, relationship: str | None = None, created_at: str | None = None, comment: str | None = None):
    """EDGES with a copy of one row appended, changed where given."""
    def change(rows):
        copy = list(rows[row])
        for column, value in (("relationship", relationship), ("createdAt", created_at), ("comment", comment)):
            if value is not None:
                copy[EDGE_HEADER.index(column)] = value
        rows.append(copy)
    return _edges(change)


def _vote(user: str, from_id: str, to_id: str, context: str = LIFE) -> EdgeVote:
    return EdgeVote.objects.get(external_user_id=user, from_card__external_id=from_id,
                                to_card__external_id=to_id, context__text=context)


def test_an_exact_repeat_counts_once(tmp_path):
    summary = run_import(*study_files(tmp_path, edges=_repeat(1)))

    assert (summary.votes, summary.voters, summary.repeats) == (5, 3, 1)
    assert EdgeVote.objects.filter(external_user_id="2", from_card__external_id="11").count() == 1
    edge = graph_compute(campaign=summary.campaign).graph.edges[0]
    assert edge.tally.marked_wiser == 2 and edge.tally.impressions == 3


def test_a_later_changed_answer_replaces_the_earlier_one(tmp_path):
    edges = _repeat(1, relationship="no_upgrade", created_at="2023-10-08T10:00:00Z", comment="changed my mind")
    summary = run_import(*study_files(tmp_path, edges=edges))

    assert (summary.votes, summary.repeats) == (5, 1)
    vote = _vote("2", "11", "12")
    assert (vote.relationship, vote.comment) == ("no_upgrade", "changed my mind")
    assert vote.created_at == datetime(2023, 10, 8, 10, tzinfo=UTC)
    # One upgrade is left on 11 -> 12, too few to keep the edge.
    assert graph_compute(campaign=summary.campaign).graph.edges == ()


def test_the_latest_answer_wins_whatever_the_row_order(tmp_path):
    # The repeat comes later in the file but was cast earlier: the row already there is the latest.
    edges = _repeat(1, relationship="no_upgrade", created_at="2023-10-01T10:00:00Z")
    summary = run_import(*study_files(tmp_path, edges=edges))

    assert summary.repeats == 1
    vote = _vote("2", "11", "12")
    assert (vote.relationship, vote.created_at) == ("upgrade", datetime(2023, 10, 5, 11, tzinfo=UTC))


def test_a_repeat_of_the_same_answer_keeps_the_first_time(tmp_path):
    """As in Chorus' own voting the first vote stays, so a graph as of a moment between the two sees it."""
    summary = run_import(*study_files(tmp_path, edges=_repeat(1, created_at="2023-10-09T10:00:00Z", comment="again")))

    vote = _vote("2", "11", "12")
    assert (vote.created_at, vote.comment) == (datetime(2023, 10, 5, 11, tzinfo=UTC), "makes sense")
    between = graph_compute(campaign=summary.campaign, as_of=datetime(2023, 10, 7, tzinfo=UTC)).graph
    assert between.edges[0].tally.marked_wiser == 2


def test_answer_changed_and_changed_back_dates_from_the_change_back(tmp_path):
    def change(rows):
        for relationship, day in (("no_upgrade", 6), ("upgrade", 7), ("upgrade", 8)):
            rows.append(["2", "11", "12", LIFE, relationship, STORY, f"day {day}", f"2023-10-0{day}T12:00:00Z", ""])
    summary = run_import(*study_files(tmp_path, edges=_edges(change)))

    assert (summary.votes, summary.repeats) == (5, 3)
    vote = _vote("2", "11", "12")
    assert (vote.relationship, vote.comment) == ("upgrade", "day 7")


def test_the_same_vote_in_another_context_or_by_another_user_is_not_a_repeat(tmp_path):
    edges = _edges(lambda r: r.extend([
        ["2", "11", "12", DISTRESS, "upgrade", "", "", "2023-10-05T11:00:00Z", ""],
        ["4", "11", "12", LIFE, "upgrade", "", "", "2023-10-05T11:00:00Z", ""],
        ["2", "12", "11", LIFE, "upgrade", "", "", "2023-10-05T11:00:00Z", ""],
    ]))
    summary = run_import(*study_files(tmp_path, edges=edges))

    assert (summary.votes, summary.repeats) == (8, 0)


def test_repeats_across_json_spellings_count_once(tmp_path):
    """A user id written as a number in one row and as text in the other is the same voter."""
    vote = {"userId": 7, "fromId": 11, "toId": 12, "contextId": LIFE, "type": "upgrade",
            "createdAt": "2024-02-01T12:00:00.000Z"}
    edges = write_json(tmp_path / "edges.json", [vote, {**vote, "userId": "7", "fromId": "11", "contextId": f" {LIFE} "}])
    summary = run_import(study_files(tmp_path)[0], edges)

    assert (summary.votes, summary.repeats) == (1, 1)


def test_two_answers_at_one_moment_name_the_spelling_of_the_column(tmp_path):
    vote = {"userId": 7, "fromId": 11, "toId": 12, "contextId": LIFE, "type": "upgrade",
            "createdAt": "2024-02-01T12:00:00.000Z"}
    edges = write_json(tmp_path / "edges.json", [vote, {**vote, "type": "not_sure"}])

    with pytest.raises(ValidationError) as refused:
        run_import(study_files(tmp_path)[0], edges)

    assert refused.value.message_dict["edges"][0].startswith(
        "edges.json item 2: type not_sure contradicts upgrade at item 1: user 7 voted on 11 → 12")
    assert_nothing_written()


def test_import_page_reports_repeats(tmp_path, client, staff_user):
    client.force_login(staff_user)
    values, edges = study_files(tmp_path, edges=_repeat(0) + _repeat(3)[-1:])
    with values.open("rb") as v, edges.open("rb") as e:
        response = client.post("/dashboard/imports/mai/", {"title": "MAI 2023", "values": v, "edges": e}, follow=True)

    assert "5 votes by 3 voters, 2 stories; 2 repeated votes counted once." in response.content.decode()
    assert EdgeVote.objects.count() == 5


def test_command_prints_the_repeats(tmp_path):
    values, edges = study_files(tmp_path, edges=_repeat(4))
    out = StringIO()

    call_command("import_mai", "--title", "MAI 2023", "--values", str(values), "--edges", str(edges), stdout=out)

    assert out.getvalue().strip().endswith("5 votes by 3 voters, 2 stories; 1 repeated votes counted once.")


# instructionsDetailed.

def test_instructions_detailed_round_trips_through_graph_json(tmp_path, client, staff_user):
    """Import, then export as MAI's MoralGraphSummary: each value gives back what it was given."""
    campaign = run_import(*study_files(tmp_path)).campaign
    client.force_login(staff_user)

    summary = client.get(f"/c/{campaign.slug}/graph.json").json()

    given = {str(v["id"]): v for v in VALUES}
    exported = {v["externalId"]: v for v in summary["values"]}
    assert set(exported) == {"11", "12"}  # the values a kept edge touches, as MAI exports them
    for external_id, value in exported.items():
        assert value["instructionsDetailed"] == given[external_id]["instructionsDetailed"]
        assert value["description"] == given[external_id]["instructionsShort"]

    # And the export is itself a values file that imports with the same text.
    again = write_json(tmp_path / "graph.json", summary)
    first, second = summary["values"]
    edges = write_csv(tmp_path / "edges2.csv", EDGE_HEADER,
                      [["1", str(first["id"]), str(second["id"]), LIFE, "upgrade", "", "", "2024-01-01T00:00:00Z", ""]])
    reimported = run_import(again, edges, title="MAI 2023 again").campaign
    assert dict(CanonicalCard.objects.filter(campaign=reimported).values_list("title", "instructions_detailed")) == {
        "Informed Autonomy": "ChatGPT can foster...", "Care For Wellbeing": ""}


def test_instructions_detailed_is_read_from_csv_and_may_be_absent(tmp_path):
    values = write_csv(tmp_path / "values.csv", ["id", "title", "instructionsShort", "instructionsDetailed",
                                                  "evaluationCriteria"], [
        ["11", "Informed Autonomy", "Full information.", "  Lay out every option.\nThen step back.  ", "FACTS"],
        ["12", "Care For Wellbeing", "Health.", "", "RISKS"],
        ["13", "Honest Conversation", "Openly.", "", "QUESTIONS"],
    ])
    run_import(values, study_files(tmp_path)[1])

    assert CanonicalCard.objects.get(external_id="11").instructions_detailed == "Lay out every option.\nThen step back."

    Campaign.objects.all().delete()
    run_import(*study_files(tmp_path, values=_values(lambda v: [value.pop("instructionsDetailed") for value in v])))
    assert set(CanonicalCard.objects.values_list("instructions_detailed", flat=True)) == {""}
