"""Withdrawal: a participant leaves and takes their words with them.

What goes, in one transaction (docs/elicitation.md, "Withdrawal"):
- the participant and, by cascade, everything they wrote or chose: interviews and their messages,
  values cards, impressions and picks, upgrade answers and comments, statements and statement votes,
  system messages, comparisons, value survey answers (`services.surveys.survey_answers_forget`);
- the values worded from their cards: re-worded from someone else's card in the value, or deleted
  where there is none (`services.values.values_forget`), with the LLM's stories and contexts written
  from that wording;
- principles written from their statements or from those values, with their entries in draft
  constitutions; published constitution versions keep the entry's place with a fixed note
  (`services.constitutions.principles_withdraw`);
- the same values and contexts in the campaign's graph snapshots, and the campaign's cached opinion
  groups (after the commit).

Frozen training targets live in `training`, which elicitation never imports: this module sends
`participant_withdrawn` with a `Withdrawal` saying what to remove, inside the transaction and after
everything above, and `training` rewrites its files in its receiver. A receiver that fails rolls the
withdrawal back, so the participant can try again and nothing is half done in the database.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.contrib.sessions.backends.base import SessionBase
from django.db import transaction
from django.db.models import Q
from django.dispatch import Signal
from django.utils import timezone

from chorus.accounts import services as account_services
from chorus.accounts.models import Participant
from elicitation.domain.comparisons_exports import pseudonym
from elicitation.domain.moral_graph import GraphRedaction
from elicitation.models import GraphSnapshot, Principle
from elicitation.selectors.statements import statement_groups_forget
from elicitation.selectors.values import canonicals_worded_by
from elicitation.services.constitutions import RedactedEntry, principles_withdraw
from elicitation.services.moral_graph import graph_snapshots_redact
from elicitation.services.surveys import survey_answers_forget
from elicitation.services.values import values_forget

# Sent once per withdrawal, inside its transaction, after elicitation's own changes, with
# `withdrawal=Withdrawal(...)`. Receivers remove the participant's data from what they keep
# (training's frozen targets) and may raise to roll the whole withdrawal back.
participant_withdrawn = Signal()


@dataclass(frozen=True)
class Withdrawal:
    """What a withdrawal took away, for those who keep copies. No one is named in it but by the
    pseudonym that preference datasets already use; it lives in memory only."""

    campaign_id: int
    at: datetime
    pseudonym: str  # the participant's `user` in preference datasets
    graph: GraphRedaction  # values deleted and re-worded, contexts deleted
    snapshot_ids: frozenset[int]  # the campaign's graph snapshots (moral-graph targets are frozen from them)
    entries_redacted: tuple[RedactedEntry, ...]  # published constitution entries, as they read before


@transaction.atomic
def participant_withdraw(*, participant: Participant, session: SessionBase) -> Withdrawal | None:
    """Deletes the participant and everything they contributed, and takes their words out of what
    was derived from them (see the module's docstring). None if they had withdrawn already."""
    participant = Participant.objects.select_for_update().filter(pk=participant.pk).first()
    if participant is None:  # a second submit of the same form
        return None
    campaign = participant.campaign
    at = timezone.now()
    worded = canonicals_worded_by(participant=participant)
    principles = Principle.objects.filter(
        Q(source_statement__author=participant) | Q(source_value__in=[value.pk for value, _ in worded]))
    entries_redacted = principles_withdraw(principles=principles, at=at)
    forgotten = values_forget(worded=worded)
    their_pseudonym = pseudonym(participant.public_id)
    survey_answers_forget(participant=participant)  # every wave's value vector is computed without them
    account_services.participant_withdraw(participant=participant, session=session)
    graph = GraphRedaction(values_deleted=forgotten.deleted, values_reworded=forgotten.reworded,
                           contexts_deleted=forgotten.contexts_deleted)
    graph_snapshots_redact(campaign_id=campaign.pk, redaction=graph)
    # Cached opinion groups hold statements' text. Dropped now, so that a Redis that cannot be
    # reached fails the withdrawal (rolled back, "try again") instead of leaving the words cached;
    # and again after commit, in case a page re-cached them meanwhile (a failure then is only logged).
    statement_groups_forget(campaign=campaign)
    transaction.on_commit(lambda: statement_groups_forget(campaign=campaign), robust=True)
    withdrawal = Withdrawal(
        campaign_id=campaign.pk, at=at, pseudonym=their_pseudonym, graph=graph,
        snapshot_ids=frozenset(GraphSnapshot.objects.filter(campaign=campaign).values_list("pk", flat=True)),
        entries_redacted=entries_redacted,
    )
    participant_withdrawn.send(sender=Withdrawal, withdrawal=withdrawal)
    return withdrawal
