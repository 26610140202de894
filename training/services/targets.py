"""Freezing alignment targets: a source becomes a versioned, content-hashed set of JSONL files."""
from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.db.models import Max

from .. import selectors
from ..models import AlignmentTarget, TargetFile
from ..storage import target_dir, write_folder_atomic

MAX_PROMPT_CHARS = 4000


def target_freeze_constitution(
    *, name: str, constitution_version_id: int, extra_prompts: Iterable[str] = (), user=None
) -> AlignmentTarget:
    """Principles of a published constitution version, plus prompts to train on: its campaign's
    questions and any the curator adds."""
    name = _checked_name(name)
    try:
        source = selectors.constitution_source(version_id=constitution_version_id)
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
        source = selectors.graph_snapshot_source(snapshot_id=snapshot_id)
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


def _checked_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 200:
        raise ValidationError({"name": "Give the target a name of 1 to 200 characters."})
    return name


def _jsonl(rows: Iterable[Mapping[str, Any]]) -> bytes:
    # Sorted keys and fixed separators: the same content always hashes the same.
    return b"".join(json.dumps(r, ensure_ascii=False, sort_keys=True).encode() + b"\n" for r in rows)


def _freeze(*, name: str, kind: str, files: Mapping[str, list], provenance: dict, source_label: str, user,
            **source: int) -> AlignmentTarget:
    blobs = {file_name: _jsonl(rows) for file_name, rows in files.items()}
    hashes = {file_name: hashlib.sha256(data).hexdigest() for file_name, data in blobs.items()}
    content = hashlib.sha256("".join(f"{n}\0{h}\n" for n, h in sorted(hashes.items())).encode()).hexdigest()
    target_uuid = uuid.uuid4()
    folder = target_dir(target_uuid)
    write_folder_atomic(folder, blobs)  # files first: a row never points at files that are not all there
    try:
        with transaction.atomic():
            # Lock the name's rows so two freezes of one name get consecutive versions.
            existing = AlignmentTarget.objects.select_for_update().filter(name=name)
            version = (existing.aggregate(v=Max("version"))["v"] or 0) + 1
            target = AlignmentTarget.objects.create(
                uuid=target_uuid, name=name, version=version, kind=kind, source_label=source_label[:300],
                provenance=provenance, content_sha256=content, created_by=user, **source,
            )
            TargetFile.objects.bulk_create([
                TargetFile(target=target, name=n, sha256=hashes[n], size_bytes=len(blobs[n]), rows=len(files[n]))
                for n in sorted(blobs)
            ])
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return target
