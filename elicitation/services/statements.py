"""Statement voting: participants write short statements and vote agree / disagree / pass on others'.

As in Polis, a new statement counts as its author's agree vote, statements are voted on until a
moderator rejects them, and a participant may change a vote (the latest one counts).
"""
from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from elicitation.domain.statements_polis import ExportFile, PolisExportRefused, polis_export_read
from elicitation.models import Activity, Campaign, Principle, Statement, StatementVote
from elicitation.services.campaigns import campaign_create, campaign_require_open
from elicitation.services.constitutions import principle_create

STATEMENT_MAX_CHARS = 400
CHOICES = {"agree": StatementVote.Choice.AGREE, "disagree": StatementVote.Choice.DISAGREE,
           "pass": StatementVote.Choice.PASS}


def statement_submit(*, participant, text: str) -> Statement:
    campaign = participant.campaign
    campaign_require_open(campaign, doing="statements and votes", activity=Activity.PRINCIPLES)
    text = " ".join(text.split())
    if not text:
        raise ValidationError({"text": "Write a statement before sending it."})
    if len(text) > STATEMENT_MAX_CHARS:
        raise ValidationError({"text": f"A statement has at most {STATEMENT_MAX_CHARS} characters; "
                                       f"this one has {len(text)}. Please shorten it."})
    with transaction.atomic():
        Campaign.objects.select_for_update().get(pk=campaign.pk)  # one new statement at a time per campaign
        if Statement.objects.filter(campaign=campaign, text__iexact=text).exists():
            raise ValidationError({"text": "Someone has written this statement already: vote on it instead."})
        statement = Statement.objects.create(campaign=campaign, author=participant, text=text)
        StatementVote.objects.create(statement=statement, participant=participant, choice=StatementVote.Choice.AGREE)
    return statement


def statement_vote_cast(*, participant, statement: Statement, choice: str) -> StatementVote:
    """Records or changes the participant's vote; the database holds one per participant and statement."""
    campaign_require_open(participant.campaign, doing="statements and votes", activity=Activity.PRINCIPLES)
    if statement.campaign_id != participant.campaign_id:
        raise ValidationError({"statement": "This statement belongs to another study."})
    if statement.status == Statement.Status.REJECTED:
        raise ValidationError({"statement": "This statement was removed by a moderator."})
    if choice not in CHOICES:
        raise ValidationError({"choice": "Choose agree, disagree or pass."})
    now = timezone.now()
    # Most votes are first votes: insert, and when the database holds one already (a changed vote,
    # or a concurrent first vote that won), update that one. A vote is never deleted but by a
    # withdrawal, which deletes the participant too, so the update finds it.
    try:
        with transaction.atomic():
            return StatementVote.objects.create(statement=statement, participant=participant,
                                                choice=CHOICES[choice], created_at=now, updated_at=now)
    except IntegrityError:
        vote = StatementVote.objects.get(statement=statement, participant=participant)
        vote.choice, vote.updated_at = CHOICES[choice], now
        vote.save(update_fields=["choice", "updated_at"])
        return vote


def statement_moderate(*, statement: Statement, status: str) -> Statement:
    if status not in Statement.Status.values:
        raise ValidationError({"status": f"Unknown moderation status {status!r}."})
    statement.status = status
    statement.moderated_at = timezone.now()
    statement.save(update_fields=["status", "moderated_at"])
    return statement


@transaction.atomic
def statement_promote(*, statement: Statement, name: str, consensus: float | None = None) -> Principle:
    """A curator turns a statement into an approved principle (and accepts the statement)."""
    if statement.status == Statement.Status.REJECTED:
        raise ValidationError("A rejected statement cannot become a principle.")
    if statement.principles.exists():
        raise ValidationError("This statement is a principle already.")
    note = f"statement {statement.pk}" + (f", group-aware consensus {consensus:.3f}" if consensus is not None else "")
    principle = principle_create(
        name=name, definition=statement.text, provenance=Principle.Provenance.FROM_STATEMENT,
        campaign=statement.campaign, source_statement=statement, source_note=note,
    )
    if statement.status != Statement.Status.ACCEPTED:
        statement_moderate(statement=statement, status=Statement.Status.ACCEPTED)
    return principle


# Importing a Polis conversation (its files are read in domain/statements_polis.py).

@dataclass(frozen=True)
class PolisImportSummary:
    campaign: Campaign
    statements: int
    votes: int  # one per voter and comment
    vote_rows: int  # rows in votes.csv
    voters: int

    @property
    def superseded(self) -> int:
        """Rows replaced by the same voter's later vote on the same comment."""
        return self.vote_rows - self.votes


def polis_import(
    *, comments: ExportFile, votes: ExportFile, title: str, topic: str = "", description: str = ""
) -> PolisImportSummary:
    """Imports a Polis conversation as a closed campaign; voters and authors stay external ids."""
    try:
        export = polis_export_read(comments=comments, votes=votes)
    except PolisExportRefused as exc:
        raise ValidationError({"files": exc.problems}) from None
    with transaction.atomic():
        campaign = campaign_create(
            title=title, description=description,
            questions=[topic or "The conversation's topic (not part of its export files)"],
            activities=[Activity.PRINCIPLES], status=Campaign.Status.CLOSED,
        )
        statements = Statement.objects.bulk_create([
            Statement(campaign=campaign, external_id=c.external_id, external_author_id=c.author, text=c.text,
                      status=c.status, created_at=c.created_at)
            for c in export.comments
        ])
        by_id = {s.external_id: s for s in statements}
        StatementVote.objects.bulk_create([
            StatementVote(statement=by_id[v.comment], external_voter_id=v.voter, choice=v.choice,
                          created_at=v.created_at, updated_at=v.created_at)
            for v in export.latest
        ], batch_size=2000)
    return PolisImportSummary(campaign=campaign, statements=len(statements), votes=len(export.latest),
                              vote_rows=len(export.votes), voters=len({v.voter for v in export.latest}))
