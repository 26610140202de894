"""Freezing alignment targets: a source becomes a versioned, content-hashed set of JSONL files."""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from pathlib import Path
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Max, Q

from elicitation.domain.comparisons_exports import chosen_rejected, pseudonym
from elicitation.domain.moral_graph import graph_redact
from elicitation.domain.surveys import value_vector_from_observations
from elicitation.selectors.campaigns import campaign_get, campaign_waves, wave_by_number, wave_window
from elicitation.selectors.comparisons import comparisons_decided
from elicitation.selectors.constitutions import constitution_source
from elicitation.selectors.moral_graph import graph_snapshot_source
from elicitation.selectors.surveys import survey_observations
from training import object_store
from training.models import AlignmentTarget, TargetFile, TrainingRun
from training.storage import (
    files_discard,
    files_stage,
    files_swap,
    run_dir,
    target_dir,
    target_files_discard,
    target_files_publish,
    write_folder_atomic,
)

log = logging.getLogger(__name__)

MAX_PROMPT_CHARS = 4000
MAX_MIN_PAIRS_PER_USER = 1000


# What each kind of target is frozen from: the source's field name in forms, the API and errors.
SOURCE_FIELDS = {
    AlignmentTarget.Kind.CONSTITUTION: "constitution_version",
    AlignmentTarget.Kind.MORAL_GRAPH: "graph_snapshot",
    AlignmentTarget.Kind.PREFERENCE_POPULATION: "campaign",
    AlignmentTarget.Kind.TIMELINE: "timeline_campaign",
}
MIN_TIMELINE_STEPS = 3


def target_freeze(
    *, kind: str, name: str, source_id: int, extra_prompts: Iterable[str] = (), min_pairs_per_user: int = 1, user=None
) -> AlignmentTarget:
    """Freezes a target of `kind` from the source with id `source_id` (see SOURCE_FIELDS)."""
    if kind == AlignmentTarget.Kind.CONSTITUTION:
        return target_freeze_constitution(name=name, constitution_version_id=source_id, extra_prompts=extra_prompts,
                                          user=user)
    if kind == AlignmentTarget.Kind.MORAL_GRAPH:
        return target_freeze_moral_graph(name=name, snapshot_id=source_id, user=user)
    if kind == AlignmentTarget.Kind.PREFERENCE_POPULATION:
        return target_freeze_preference_population(name=name, campaign_id=source_id,
                                                   min_pairs_per_user=min_pairs_per_user, user=user)
    if kind == AlignmentTarget.Kind.TIMELINE:
        return target_freeze_timeline(name=name, campaign_id=source_id, user=user)
    raise ValidationError({"kind": "Choose a constitution, a moral graph, a preference population or a timeline."})


def target_freeze_constitution(
    *, name: str, constitution_version_id: int, extra_prompts: Iterable[str] = (), user=None
) -> AlignmentTarget:
    """Principles of a published constitution version, plus prompts to train on: its campaign's
    questions and any the curator adds."""
    name = _checked_name(name)
    try:
        source = constitution_source(version_id=constitution_version_id)
    except ObjectDoesNotExist:
        raise ValidationError({"constitution_version": "No such constitution version."}) from None
    except ValueError as exc:  # a draft
        raise ValidationError({"constitution_version": str(exc)}) from None
    if not source["entries"]:
        raise ValidationError({"constitution_version": "This version has no principles: nothing to train towards."})
    prompts = [{"prompt": q, "source": "campaign question"} for q in source["questions"]]
    for line in extra_prompts:
        text = line.strip()
        if len(text) > MAX_PROMPT_CHARS:
            raise ValidationError({"extra_prompts": f"Each prompt must be at most {MAX_PROMPT_CHARS} characters."})
        if text:
            prompts.append({"prompt": text, "source": "curator"})
    files = {
        "principles.jsonl": [
            {"name": e["name"], "definition": e["definition"], "negated_definition": e["negated_definition"]}
            for e in source["entries"]
        ],
        "prompts.jsonl": prompts,
    }
    provenance = {**source["provenance"], "prompts": len(prompts),
                  "prompts_from_campaign": len(source["questions"])}
    return _freeze(name=name, kind=AlignmentTarget.Kind.CONSTITUTION, files=files, provenance=provenance,
                   source_label=source["label"], user=user, constitution_version_id=constitution_version_id)


def target_freeze_moral_graph(*, name: str, snapshot_id: int, user=None) -> AlignmentTarget:
    """A moral-graph snapshot's values and wiser-than edges (MAI format, one object per line)."""
    name = _checked_name(name)
    try:
        source = graph_snapshot_source(snapshot_id=snapshot_id)
    except ObjectDoesNotExist:
        raise ValidationError({"graph_snapshot": "No such graph snapshot."}) from None
    if not source["values"]:
        raise ValidationError({"graph_snapshot": "This snapshot has no values (no kept edges yet): nothing to train towards."})
    contexts = source["contexts"]
    files = {
        "values.jsonl": source["values"],
        "edges.jsonl": source["edges"],
        "contexts.jsonl": [{"id": key, "text": text} for key, text in sorted(contexts.items(), key=lambda kv: str(kv[0]))],
    }
    provenance = {"votes": source["vote_count"], "values": len(source["values"]), "edges": len(source["edges"]),
                  "contexts": len(contexts), "as_of": source["as_of"]}
    return _freeze(name=name, kind=AlignmentTarget.Kind.MORAL_GRAPH, files=files, provenance=provenance,
                   source_label=source["label"], user=user, graph_snapshot_id=snapshot_id)


def target_freeze_preference_population(
    *, name: str, campaign_id: int, min_pairs_per_user: int = 1, user=None
) -> AlignmentTarget:
    """A campaign's judged comparisons as preference pairs under each person's system message,
    grouped by pseudonym so that personalised methods (VPL, PAL, Janus) can learn per user.

    Ties and "both bad" carry no direction: counted, not written. People with fewer than
    `min_pairs_per_user` pairs are left out (and counted)."""
    name = _checked_name(name)
    if not 1 <= min_pairs_per_user <= MAX_MIN_PAIRS_PER_USER:
        raise ValidationError({"min_pairs_per_user": f"Give a number from 1 to {MAX_MIN_PAIRS_PER_USER}."})
    campaign = campaign_get(campaign_id=campaign_id)
    if campaign is None:
        raise ValidationError({"campaign": "No such campaign."})
    preferences, users, counts = _preference_population(comparisons_decided(campaign=campaign),
                                                        min_pairs=min_pairs_per_user)
    if not counts["directed"]:
        raise ValidationError({"campaign": "No one in this campaign has preferred one response over the other "
                                           "(ties and “both bad” say nothing to train towards)."})
    if not preferences:
        raise ValidationError({"min_pairs_per_user": f"No one has {min_pairs_per_user} or more pairs with a "
                                                     "preferred response: lower the minimum."})
    provenance = {
        "participants": counts["participants"], "comparisons_judged": counts["judged"], "pairs_kept": len(preferences),
        "ties": counts["tie"], "both_bad": counts["both_bad"], "users_kept": len(users),
        "users_below_min_pairs": counts["participants"] - len(users), "min_pairs_per_user": min_pairs_per_user,
    }
    label = f"Preferences of “{campaign.title}”: {_count(len(preferences), 'pair')} from {_count(len(users), 'participant')}"
    return _freeze(name=name, kind=AlignmentTarget.Kind.PREFERENCE_POPULATION,
                   files={"preferences.jsonl": preferences, "users.jsonl": users}, provenance=provenance,
                   source_label=label, user=user, campaign_id=campaign.pk)


def target_freeze_timeline(*, name: str, campaign_id: int, user=None) -> AlignmentTarget:
    """A campaign's waves as the steps of a timeline, for trackers (training/methods/progress.py).

    `steps.jsonl` has one row per wave in order: its number, label, window, how many pairs were
    decided in it, and the population's value vector then (null while the campaign has no value
    survey answers for that wave). `preferences.jsonl` has every pair decided in a wave, in the same
    shape as a preference population's, with its `step`. Refused, before anything is written, with
    fewer than MIN_TIMELINE_STEPS waves or a wave in which no pair was decided."""
    name = _checked_name(name)
    campaign = campaign_get(campaign_id=campaign_id)
    if campaign is None:
        raise ValidationError({"timeline_campaign": "No such campaign."})
    waves = list(campaign_waves(campaign=campaign))
    if len(waves) < MIN_TIMELINE_STEPS:
        raise ValidationError({"timeline_campaign": f"A timeline needs at least {MIN_TIMELINE_STEPS} waves; "
                                                    f"this campaign has {len(waves)}."})
    steps, preferences, counts = [], [], Counter()
    for index, wave in enumerate(waves):
        starts, ends = wave_window(wave=wave)
        pairs, _, wave_counts = _preference_population(comparisons_decided(campaign=campaign, since=starts, until=ends),
                                                       min_pairs=1)
        if not pairs:
            raise ValidationError({"timeline_campaign": f"No pair was decided in wave {wave.number} (ties and “both "
                                                        "bad” show no preference): every wave needs some."})
        counts.update(wave_counts)
        preferences += [{**pair, "step": index} for pair in pairs]
        steps.append({"step": index, "wave": wave.number, "label": str(wave), "starts_at": starts.isoformat(),
                      "ends_at": ends.isoformat() if ends else None, "pairs": len(pairs), "users": len({p["user"] for p in pairs}),
                      "population_vector": _population_vector(campaign=campaign, wave=wave)})
    provenance = {"waves": len(waves), "pairs_kept": len(preferences), "comparisons_judged": counts["judged"],
                  "ties": counts["tie"], "both_bad": counts["both_bad"],
                  "participants": len({p["user"] for p in preferences}),
                  "waves_with_population_vector": sum(s["population_vector"] is not None for s in steps)}
    label = f"Timeline of “{campaign.title}”: {_count(len(waves), 'wave')}, {_count(len(preferences), 'pair')}"
    return _freeze(name=name, kind=AlignmentTarget.Kind.TIMELINE,
                   files={"steps.jsonl": steps, "preferences.jsonl": preferences}, provenance=provenance,
                   source_label=label, user=user, campaign_id=campaign.pk)


def _population_vector(*, campaign, wave) -> dict | None:
    """The population's value vector in a wave (ValueVector.to_json()), or None when no one answered
    the value survey in it. Computed again at each withdrawal, so it leaves the withdrawn out."""
    observations = survey_observations(wave=wave)
    if not observations:
        return None
    return {**value_vector_from_observations(observations).to_json(),
            "participants": len({o.respondent for o in observations})}


def _preference_population(comparisons: Iterable[dict], *, min_pairs: int) -> tuple[list, list, Counter]:
    """(preference rows, user rows, counts) from comparison rows ordered by participant."""
    preferences: list[dict] = []
    users: list[dict] = []
    counts: Counter = Counter()
    for _, rows in groupby(comparisons, key=itemgetter("participant_id")):
        counts["participants"] += 1
        pairs = []
        for c in rows:
            counts["judged"] += 1
            chosen_and_rejected = chosen_rejected(c)
            if chosen_and_rejected is None:
                counts[c["choice"]] += 1  # "tie" or "both_bad"
                continue
            chosen, rejected = chosen_and_rejected
            pairs.append({"user": pseudonym(c["participant_public_id"]), "system": c["system_message_text"],
                          "dimensions": c["dimensions"], "prompt": c["prompt"], "chosen": chosen,
                          "rejected": rejected})
        counts["directed"] += len(pairs)
        if len(pairs) >= min_pairs:
            latest = pairs[-1]  # the system message they stated last, as far as their pairs tell
            users.append({"user": latest["user"], "system": latest["system"], "dimensions": latest["dimensions"],
                          "pairs": len(pairs)})
            preferences.extend(pairs)
    return preferences, users, counts


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "Give the target a name of 1 to 200 characters."})
    return name


def jsonl_line(row: Mapping[str, Any]) -> bytes:
    # Sorted keys and fixed separators: the same content always hashes the same.
    return json.dumps(row, ensure_ascii=False, sort_keys=True).encode() + b"\n"


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    return b"".join(jsonl_line(r) for r in rows)


def _freeze(*, name: str, kind: str, files: Mapping[str, list], provenance: dict, source_label: str, user,
            **source: int) -> AlignmentTarget:
    blobs = {file_name: _jsonl(rows) for file_name, rows in files.items()}
    stats = {n: FileStats(hashlib.sha256(data).hexdigest(), len(data), len(files[n])) for n, data in blobs.items()}
    target_uuid = uuid.uuid4()
    folder = target_dir(target_uuid)
    write_folder_atomic(folder, blobs)  # files first: a row never points at files that are not all there
    return _target_record(target_uuid=target_uuid, folder=folder, name=name, kind=kind, stats=stats,
                          provenance=provenance, source_label=source_label, user=user, **source)


@dataclass(frozen=True)
class FileStats:
    sha256: str
    size_bytes: int
    rows: int


def target_publish_staged(*, staging: Path, stats: Mapping[str, FileStats], name: str, kind: str, provenance: dict,
                          source_label: str, user=None,
                          claim: Callable[[AlignmentTarget], None] | None = None) -> AlignmentTarget:
    """Makes a target of files already written (too many rows to hold in memory) to `staging`, a
    hidden folder under the targets folder: renamed into place in one step, then recorded.

    `claim`, when given, is called with the new target inside the transaction that records it: it
    may write what the target was made for, or raise to refuse the target (nothing is recorded, and
    its files are deleted)."""
    name = _checked_name(name)
    target_uuid = uuid.uuid4()
    folder = target_dir(target_uuid)
    staging.rename(folder)
    return _target_record(target_uuid=target_uuid, folder=folder, name=name, kind=kind, stats=stats,
                          provenance=provenance, source_label=source_label, user=user, claim=claim)


def _target_record(*, target_uuid: uuid.UUID, folder: Path, name: str, kind: str, stats: Mapping[str, FileStats],
                   provenance: dict, source_label: str, user,
                   claim: Callable[[AlignmentTarget], None] | None = None, **source: int) -> AlignmentTarget:
    try:
        target_files_publish(folder, {n: s.sha256 for n, s in stats.items()})  # to the bucket, if there is one
        with transaction.atomic():
            # Lock the name's rows so two freezes of one name get consecutive versions.
            existing = AlignmentTarget.objects.select_for_update().filter(name=name)
            version = (existing.aggregate(v=Max("version"))["v"] or 0) + 1
            target = AlignmentTarget.objects.create(
                uuid=target_uuid, name=name, version=version, kind=kind, source_label=source_label[:300],
                provenance=provenance, content_sha256=_content_hash({n: s.sha256 for n, s in stats.items()}),
                created_by=user, **source,
            )
            TargetFile.objects.bulk_create([
                TargetFile(target=target, name=n, sha256=stats[n].sha256, size_bytes=stats[n].size_bytes,
                           rows=stats[n].rows)
                for n in sorted(stats)
            ])
            if claim is not None:
                claim(target)
    except BaseException:
        target_files_discard(folder)
        raise
    return target


def _content_hash(hashes: Mapping[str, str]) -> str:
    return hashlib.sha256("".join(f"{n}\0{h}\n" for n, h in sorted(hashes.items())).encode()).hexdigest()


# Withdrawal --------------------------------------------------------------------------------------


def targets_on_participant_withdrawn(sender, *, withdrawal, **kwargs) -> None:
    """Receiver of elicitation's `participant_withdrawn` (connected in TrainingConfig.ready)."""
    targets_redact(withdrawal=withdrawal)


def targets_redact(*, withdrawal) -> list[AlignmentTarget]:
    """Removes a withdrawn participant's rows from the frozen targets that hold them, inside the
    withdrawal's transaction: their preference pairs and user row (by pseudonym), constitution
    principles whose published entry was redacted, and moral-graph values, edges and contexts as the
    snapshots changed (deleted values out, re-worded values in their new words).

    Files are staged under hidden names first, the rows (file hashes, sizes, row counts, the content
    hash, and a line in `redactions` with no one named) are updated, and then each staged file
    replaces its final name. Finished runs on a changed target lose their intermediate data (their
    published models stay). Returns the targets that changed."""
    query = Q(kind__in=(AlignmentTarget.Kind.PREFERENCE_POPULATION, AlignmentTarget.Kind.TIMELINE),
              campaign_id=withdrawal.campaign_id)
    if withdrawal.graph and withdrawal.snapshot_ids:
        query |= Q(kind=AlignmentTarget.Kind.MORAL_GRAPH, graph_snapshot_id__in=withdrawal.snapshot_ids)
    versions = {e.version_id for e in withdrawal.entries_redacted}
    if versions:
        query |= Q(kind=AlignmentTarget.Kind.CONSTITUTION, constitution_version_id__in=versions)
    plans = []
    for target in AlignmentTarget.objects.select_for_update().filter(query).order_by("pk"):
        files = {f.name: f for f in target.files.all()}
        rows = {name: _jsonl_read(target, name, f.sha256) for name, f in files.items()}
        changed, removed, reworded = _withdrawn_rows(target, rows, withdrawal)
        if removed or reworded:
            plans.append((target, files, changed, removed, reworded))
    staged: list = []
    try:
        for target, files, changed, removed, reworded in plans:
            blobs = {name: _jsonl(changed[name]) for name in changed}
            staged += files_stage(target_dir(target.uuid), blobs)
            for name, data in blobs.items():
                f = files[name]
                f.sha256, f.size_bytes, f.rows = hashlib.sha256(data).hexdigest(), len(data), len(changed[name])
                f.save(update_fields=["sha256", "size_bytes", "rows"])
            target.content_sha256 = _content_hash({name: f.sha256 for name, f in files.items()})
            target.redactions = [*target.redactions, {"at": withdrawal.at.isoformat(), "rows_removed": removed,
                                                      "rows_reworded": reworded}]
            target.save(update_fields=["content_sha256", "redactions"])
        files_swap(staged)  # last: nothing after this but the commit (and the bucket's copies)
        for target, files, changed, _, _ in plans:
            target_files_publish(target_dir(target.uuid), {name: files[name].sha256 for name in changed})
    except BaseException:
        files_discard(staged)
        raise
    changed_targets = [plan[0] for plan in plans]
    # Finished runs' intermediate data (e.g. SALMON's labelled pairs) was made from the old rows, and
    # nothing reads it again; runs still going keep theirs (they resume from it).
    for run_uuid in TrainingRun.objects.filter(target__in=changed_targets, status__in=TrainingRun.FINISHED
                                               ).values_list("uuid", flat=True):
        shutil.rmtree(run_dir(run_uuid) / "work", ignore_errors=True)
    return changed_targets


def _jsonl_read(target: AlignmentTarget, name: str, sha256: str) -> list[dict] | None:
    path = target_dir(target.uuid) / name
    try:
        if object_store.enabled():
            object_store.ensure_local(path, sha256)
        data = path.read_bytes()
    except FileNotFoundError:  # nothing on disk to remove from; the withdrawal goes ahead
        log.warning("target file missing during a withdrawal", extra={"target": target.pk, "file": name})
        return None
    return [json.loads(line) for line in data.splitlines() if line.strip()]


def _withdrawn_rows(target: AlignmentTarget, rows: dict[str, list[dict] | None],
                    withdrawal) -> tuple[dict[str, list[dict]], int, int]:
    """(the files that change, with their new rows; rows removed; rows re-worded)."""
    present = {name: r for name, r in rows.items() if r is not None}
    if target.kind == AlignmentTarget.Kind.PREFERENCE_POPULATION:
        changed = {name: [row for row in r if row.get("user") != withdrawal.pseudonym]
                   for name, r in present.items() if name in ("preferences.jsonl", "users.jsonl")}
        return _only_changed(changed, present), sum(len(present[n]) - len(r) for n, r in changed.items()), 0
    if target.kind == AlignmentTarget.Kind.TIMELINE and "preferences.jsonl" in present:
        kept = [row for row in present["preferences.jsonl"] if row.get("user") != withdrawal.pseudonym]
        changed = {"preferences.jsonl": kept}
        if "steps.jsonl" in present:
            changed["steps.jsonl"] = _timeline_steps_recounted(target, present["steps.jsonl"], kept)
        return _only_changed(changed, present), len(present["preferences.jsonl"]) - len(kept), 0
    if target.kind == AlignmentTarget.Kind.CONSTITUTION and "principles.jsonl" in present:
        redacted = Counter((e.name, e.definition, e.negated_definition) for e in withdrawal.entries_redacted
                           if e.version_id == target.constitution_version_id)
        kept = []
        for row in present["principles.jsonl"]:
            key = (row.get("name"), row.get("definition"), row.get("negated_definition"))
            if redacted[key]:
                redacted[key] -= 1
            else:
                kept.append(row)
        removed = len(present["principles.jsonl"]) - len(kept)
        return ({"principles.jsonl": kept} if removed else {}), removed, 0
    if target.kind == AlignmentTarget.Kind.MORAL_GRAPH and {"values.jsonl", "edges.jsonl"} <= set(present):
        contexts = present.get("contexts.jsonl", [])
        result = graph_redact({"values": present["values.jsonl"], "edges": present["edges.jsonl"],
                               "contexts": {row["id"]: row["text"] for row in contexts}}, withdrawal.graph)
        changed = {"values.jsonl": result.summary["values"], "edges.jsonl": result.summary["edges"]}
        if "contexts.jsonl" in present:
            changed["contexts.jsonl"] = [{"id": key, "text": text} for key, text in result.summary["contexts"].items()]
        return _only_changed(changed, present), result.rows_removed, result.rows_reworded
    return {}, 0, 0


def _timeline_steps_recounted(target: AlignmentTarget, steps: list[dict], pairs: list[dict]) -> list[dict]:
    """Each step's pair and people counts from the pairs kept, and its population vector computed
    again from the answers that remain (when the campaign and the wave are still there)."""
    by_step: dict[int, list[dict]] = {}
    for pair in pairs:
        by_step.setdefault(pair["step"], []).append(pair)
    campaign = campaign_get(campaign_id=target.campaign_id) if target.campaign_id else None
    rows = []
    for step in steps:
        kept = by_step.get(step["step"], [])
        row = {**step, "pairs": len(kept), "users": len({p["user"] for p in kept})}
        wave = wave_by_number(campaign=campaign, number=step["wave"]) if campaign else None
        if wave is not None and step.get("population_vector") is not None:  # their answers are gone by now
            row["population_vector"] = _population_vector(campaign=campaign, wave=wave)
        rows.append(row)
    return rows


def _only_changed(changed: dict[str, list[dict]], present: dict[str, list[dict]]) -> dict[str, list[dict]]:
    return {name: r for name, r in changed.items() if r != present[name]}
