"""Principles and constitutions: authoring, LLM drafts from the moral graph, versions, SALMON import.

A constitution has at most one draft version at a time; publishing freezes it for good (the database
refuses any later change, see migration 0006), and editing a published constitution starts a new
draft copied from its latest published version.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Max, QuerySet
from django.utils import timezone

from chorus import llm
from chorus.inference import InferenceError
from elicitation.domain.constitutions_salmon import DEFINITION_MAX_CHARS, NAME_MAX_CHARS, SalmonFormatError, salmon_read
from elicitation.models import (
    Campaign,
    CampaignJob,
    CanonicalCard,
    Constitution,
    ConstitutionEntry,
    ConstitutionRedaction,
    ConstitutionVersion,
    EdgeVote,
    Principle,
)
from elicitation.prompts import constitutions as prompts
from elicitation.selectors.moral_graph import graph_compute, wisest_values_per_context
from elicitation.services.campaigns import campaign_job_queue

log = logging.getLogger(__name__)

DRAFTS_PER_RUN = 5  # each draft is an LLM call; a curator asks for more once these are reviewed


def principle_create(
    *,
    name: str,
    definition: str,
    negated_definition: str = "",
    kind: str = Principle.Kind.RULE,
    provenance: str = Principle.Provenance.AUTHORED,
    status: str = Principle.Status.APPROVED,
    campaign: Campaign | None = None,
    source_value: CanonicalCard | None = None,
    source_statement=None,
    source_note: str = "",
    weight: int | None = None,
) -> Principle:
    name, definition, negated_definition = _checked_text(name, definition, negated_definition, kind)
    return Principle.objects.create(
        name=name, definition=definition, negated_definition=negated_definition, kind=kind, provenance=provenance,
        status=status, campaign=campaign, source_value=source_value, source_statement=source_statement,
        source_note=source_note[:300], weight=weight,
    )


def principle_update(*, principle: Principle, name: str, definition: str, negated_definition: str, kind: str) -> Principle:
    """Edits the principle; published constitution versions keep the text they were published with."""
    principle.name, principle.definition, principle.negated_definition = _checked_text(
        name, definition, negated_definition, kind
    )
    principle.kind = kind
    principle.save(update_fields=["name", "definition", "negated_definition", "kind"])
    return principle


def principle_approve(*, principle: Principle) -> Principle:
    principle.status = Principle.Status.APPROVED
    principle.save(update_fields=["status"])
    return principle


def principle_discard(*, principle: Principle) -> None:
    """A curator turns down a proposed principle."""
    if principle.status != Principle.Status.PROPOSED:
        raise ValidationError("Only a proposed principle can be discarded.")
    principle.delete()


def _checked_text(name: str, definition: str, negated_definition: str, kind: str) -> tuple[str, str, str]:
    name, definition, negated_definition = name.strip(), definition.strip(), negated_definition.strip()
    errors: dict[str, str] = {}
    if not name:
        errors["name"] = "A principle needs a name."
    elif len(name) > NAME_MAX_CHARS:
        errors["name"] = f"A name has at most {NAME_MAX_CHARS} characters."
    if not definition:
        errors["definition"] = "A principle needs a definition."
    elif len(definition) > DEFINITION_MAX_CHARS:
        errors["definition"] = f"A definition has at most {DEFINITION_MAX_CHARS} characters."
    if len(negated_definition) > DEFINITION_MAX_CHARS:
        errors["negated_definition"] = f"A negated definition has at most {DEFINITION_MAX_CHARS} characters."
    if kind not in Principle.Kind.values:
        errors["kind"] = f"Unknown kind {kind!r}."
    if errors:
        raise ValidationError(errors)
    return name, definition, negated_definition


@dataclass
class DraftResult:
    drafted: list[Principle] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # one line per value the LLM could not draft from
    remaining: int = 0  # wisest values still without a draft after this run


def principles_draft_from_graph(*, campaign: Campaign, limit: int = DRAFTS_PER_RUN) -> DraftResult:
    """Asks the LLM for a principle from the wisest value of each context, as proposals for a curator.

    A (value, context) pair is drafted once; pairs already drafted (even if discarded since, they
    would be drafted again) are skipped.
    """
    todo = _drafts_todo(campaign)
    cards = CanonicalCard.objects.in_bulk([value for _, value in todo])
    result = DraftResult(remaining=max(0, len(todo) - limit))
    for context, value_id in todo[:limit]:
        card = cards[value_id]
        messages = prompts.draft_principle_messages(
            context=context, card={"title": card.title, "description": card.description, "policies": card.policies}
        )
        try:
            raw = llm.chat_backend().complete(messages, json_schema=prompts.DRAFT_PRINCIPLE_SCHEMA, max_tokens=300)
            draft = json.loads(raw)
            principle = principle_create(
                name=draft["name"], definition=draft["definition"], negated_definition=draft["negated_definition"],
                kind=Principle.Kind.VALUE_DERIVED, provenance=Principle.Provenance.FROM_VALUE,
                status=Principle.Status.PROPOSED, campaign=campaign, source_value=card,
                source_note=_context_note(context),
            )
        except (InferenceError, ValueError, KeyError, ValidationError) as exc:
            log.warning("principle draft failed", extra={"campaign": campaign.pk, "value": card.pk, "error": str(exc)})
            result.failed.append(f"“{card.title}” in “{context}”: {exc}")
            continue
        result.drafted.append(principle)
    return result


def _drafts_todo(campaign: Campaign) -> list[tuple[str, int]]:
    """(context, wisest value id) pairs without a draft yet."""
    wisest = wisest_values_per_context(result=graph_compute(campaign=campaign), campaign=campaign)
    done = set(Principle.objects.filter(campaign=campaign, provenance=Principle.Provenance.FROM_VALUE)
               .values_list("source_value_id", "source_note"))
    todo = [(row["context"], row["values"][0]["id"]) for row in wisest if row["values"]]
    return [(context, value) for context, value in todo if (value, _context_note(context)) not in done]


def principles_draft_outlook(*, campaign: Campaign) -> str:
    """Why no principle can be drafted now, and what to do; "" when some wisest value awaits a draft."""
    if _drafts_todo(campaign):
        return ""
    drafted = Principle.objects.filter(campaign=campaign, provenance=Principle.Provenance.FROM_VALUE).count()
    if drafted:
        return (f"Every context's wisest value has a draft already ({drafted}): review them under “Awaiting a "
                "curator”. New upgrade votes can change which value is wisest; draft again then.")
    votes = EdgeVote.objects.filter(campaign=campaign).count()
    return (f"No wisest value yet: the moral graph keeps an edge once at least 2 people say the same person became "
            f"wiser, and few disagree; “{campaign.title}” has {votes} upgrade vote{'s' if votes != 1 else ''} and no "
            "kept edge. Propose upgrade stories on the campaign page and let participants answer them, then draft "
            "again.")


DRAFTS_TASK = "elicitation.tasks.principles_draft"


def principles_draft_request(*, campaign: Campaign, user=None) -> CampaignJob:
    """Queues drafting on a CPU worker (an LLM call per value takes seconds), or records at once why
    there is nothing to draft."""
    return campaign_job_queue(campaign=campaign, kind=CampaignJob.Kind.PRINCIPLE_DRAFTS, task=DRAFTS_TASK,
                              nothing_to_do=principles_draft_outlook(campaign=campaign), user=user)


def _context_note(context: str) -> str:
    return f"wisest in: {context}"[:300]


# Constitutions ---------------------------------------------------------------------------------


@transaction.atomic
def constitution_create(*, title: str, description: str = "", campaign: Campaign | None = None) -> Constitution:
    title = title.strip()
    if not title or len(title) > 200:
        raise ValidationError({"title": "A constitution needs a title of 1 to 200 characters."})
    constitution = Constitution.objects.create(title=title, description=description.strip(), campaign=campaign)
    ConstitutionVersion.objects.create(constitution=constitution, number=1)
    return constitution


@transaction.atomic
def constitution_draft(*, constitution: Constitution) -> ConstitutionVersion:
    """The constitution's draft version, started from its latest published version if it has none."""
    Constitution.objects.select_for_update().filter(pk=constitution.pk).values_list("pk").get()
    versions = ConstitutionVersion.objects.filter(constitution=constitution)
    draft = versions.filter(published_at__isnull=True).first()
    if draft:
        return draft
    latest = versions.order_by("-number").first()
    draft = ConstitutionVersion.objects.create(constitution=constitution, number=(latest.number + 1) if latest else 1)
    if latest:
        # Entries a withdrawal redacted stay behind: the note is not a principle.
        kept = latest.entries.exclude(position__in=latest.redactions.values("position")).order_by("position")
        ConstitutionEntry.objects.bulk_create([
            ConstitutionEntry(version=draft, principle_id=e.principle_id, position=position, name=e.name,
                              definition=e.definition, negated_definition=e.negated_definition, weight=e.weight)
            for position, e in enumerate(kept)
        ])
    return draft


@transaction.atomic
def constitution_entry_add(*, version: ConstitutionVersion, principle: Principle) -> ConstitutionEntry:
    """Adds the principle's current text at the end of a draft."""
    version = _locked_draft(version)
    if principle.status != Principle.Status.APPROVED:
        raise ValidationError("Approve the principle before adding it to a constitution.")
    if version.entries.filter(principle=principle).exists():
        raise ValidationError(f"“{principle.name}” is in this version already.")
    last = version.entries.aggregate(last=Max("position"))["last"]
    return ConstitutionEntry.objects.create(
        version=version, principle=principle, position=0 if last is None else last + 1, name=principle.name,
        definition=principle.definition, negated_definition=principle.negated_definition, weight=principle.weight,
    )


@transaction.atomic
def constitution_entry_remove(*, entry: ConstitutionEntry) -> None:
    version = _locked_draft(entry.version)
    entry.delete()
    _renumber(version)


@transaction.atomic
def constitution_entry_move(*, entry: ConstitutionEntry, offset: int) -> None:
    """Moves an entry up (offset -1) or down (+1) in its draft."""
    version = _locked_draft(entry.version)
    entries = list(version.entries.order_by("position"))
    index = next(i for i, e in enumerate(entries) if e.pk == entry.pk)
    target = min(max(index + offset, 0), len(entries) - 1)
    entries.insert(target, entries.pop(index))
    for position, e in enumerate(entries):
        if e.position != position:
            e.position = position
            e.save(update_fields=["position"])  # the position constraint is checked at commit


def _renumber(version: ConstitutionVersion) -> None:
    for position, e in enumerate(version.entries.order_by("position")):
        if e.position != position:
            e.position = position
            e.save(update_fields=["position"])


@transaction.atomic
def constitution_version_publish(*, version: ConstitutionVersion, notes: str = "") -> ConstitutionVersion:
    version = _locked_draft(version)
    if not version.entries.exists():
        raise ValidationError("A version needs at least one principle before it is published.")
    version.published_at = timezone.now()
    version.notes = notes.strip()
    version.save(update_fields=["published_at", "notes"])
    return version


def _locked_draft(version: ConstitutionVersion) -> ConstitutionVersion:
    locked = ConstitutionVersion.objects.select_for_update().get(pk=version.pk)
    if locked.published_at is not None:
        raise ValidationError(
            f"Version {locked.number} is published and cannot change; edit the constitution to start a new version."
        )
    return locked


# Withdrawal --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedactedEntry:
    """A published entry whose text a withdrawal replaced, with the text it had (to find it in
    frozen targets; never stored)."""

    version_id: int
    position: int
    name: str
    definition: str
    negated_definition: str


def principles_withdraw(*, principles: QuerySet[Principle], at) -> tuple[RedactedEntry, ...]:
    """Deletes principles written from a withdrawing participant's words, inside the withdrawal's
    transaction. Draft versions lose their entries (the rest move up); published versions keep the
    entry's place with the fixed note of `ConstitutionRedaction` instead of its text, and a
    `ConstitutionRedaction` row saying when. Returns the redacted entries as they read before."""
    ids = list(principles.values_list("pk", flat=True))
    if not ids:
        return ()
    entries = list(ConstitutionEntry.objects.filter(principle_id__in=ids).select_related("version")
                   .order_by("version_id", "position"))
    drafts = {e.version_id for e in entries if e.version.published_at is None}
    ConstitutionEntry.objects.filter(pk__in=[e.pk for e in entries if e.version_id in drafts]).delete()
    for version in ConstitutionVersion.objects.select_for_update().filter(pk__in=drafts):
        _renumber(version)
    published = [e for e in entries if e.version_id not in drafts]
    redacted = tuple(RedactedEntry(e.version_id, e.position, e.name, e.definition, e.negated_definition)
                     for e in published)
    if published:
        with transaction.atomic(), _published_entries_redactable():
            ConstitutionEntry.objects.filter(pk__in=[e.pk for e in published]).update(
                name=ConstitutionRedaction.NAME, definition=ConstitutionRedaction.TEXT, negated_definition="")
        ConstitutionRedaction.objects.bulk_create(
            [ConstitutionRedaction(version_id=e.version_id, position=e.position, redacted_at=at) for e in published],
            ignore_conflicts=True,
        )
    Principle.objects.filter(pk__in=ids).delete()  # published entries lose the link; their text is the note
    return redacted


@contextmanager
def _published_entries_redactable() -> Iterator[None]:
    """While inside, the database lets this transaction replace a published entry's text with the
    redaction note, and nothing else (migration 0009). Used inside a savepoint: if anything fails,
    rolling it back undoes the setting too."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL chorus.withdrawal = 'on'")
    yield
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL chorus.withdrawal = 'off'")


# SALMON ------------------------------------------------------------------------------------------


@transaction.atomic
def salmon_import(*, name: str, data: bytes | str, title: str = "") -> ConstitutionVersion:
    """Imports a SALMON principle file as approved principles and a draft constitution of them, in order.

    Raises ValidationError (nothing written) listing every problem in the file.
    """
    try:
        records = salmon_read(data, name=name)
    except SalmonFormatError as exc:
        raise ValidationError({"file": exc.problems}) from None
    constitution = constitution_create(title=title or name.removesuffix(".json"),
                                       description=f"Imported from SALMON's {name}.")
    version = constitution.versions.get()
    for position, record in enumerate(records):
        principle = principle_create(
            name=record.name, definition=record.definition, negated_definition=record.negated_definition,
            provenance=Principle.Provenance.IMPORTED, source_note=f"SALMON {name}", weight=record.weight,
        )
        ConstitutionEntry.objects.create(
            version=version, principle=principle, position=position, name=principle.name,
            definition=principle.definition, negated_definition=principle.negated_definition, weight=record.weight,
        )
    return version

