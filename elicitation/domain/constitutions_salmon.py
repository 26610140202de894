"""SALMON's principle JSON (IBM's Dromedary/SALMON `principle_collection_*.json`), read and written.

A file is a list of objects: "dimension" (the name), "definition", and either "weight" (how often the
principle is sampled) or "negative_definition" (the principle negated; the reward model's label flips).
No Django here: the services turn these records into principles and constitution entries.
"""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass

KNOWN_KEYS = ("dimension", "definition", "weight", "negative_definition")
NAME_MAX_CHARS = 200
DEFINITION_MAX_CHARS = 2000


@dataclass(frozen=True)
class SalmonPrinciple:
    name: str
    definition: str
    negated_definition: str = ""
    weight: int | None = None


class SalmonFormatError(ValueError):
    """The file is not SALMON principle JSON; `problems` says where, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


def salmon_read(data: bytes | str, *, name: str) -> list[SalmonPrinciple]:
    try:
        records = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SalmonFormatError([f"{name}: not JSON ({exc})."]) from None
    except RecursionError:
        raise SalmonFormatError([f"{name}: nested too deeply to be a list of principles."]) from None
    if not isinstance(records, list) or not records:
        raise SalmonFormatError([f"{name}: must be a non-empty JSON list of principles."])
    problems: list[str] = []
    principles: list[SalmonPrinciple] = []
    for i, record in enumerate(records, start=1):
        where = f"{name} item {i}"
        if not isinstance(record, dict):
            problems.append(f"{where}: must be a JSON object.")
            continue
        found = [f"{where}: {p}" for p in _record_problems(record)]
        if found:
            problems.extend(found)
            continue
        principles.append(SalmonPrinciple(
            name=record["dimension"].strip(), definition=record["definition"].strip(),
            negated_definition=(record.get("negative_definition") or "").strip(), weight=record.get("weight"),
        ))
    seen: set[str] = set()
    for principle in principles:
        if principle.name in seen:
            problems.append(f"{name}: the dimension {principle.name!r} appears twice.")
        seen.add(principle.name)
    if problems:
        raise SalmonFormatError(problems)
    return principles


def salmon_write(principles: Iterable[SalmonPrinciple]) -> str:
    """The JSON as SALMON's own files lay it out (four-space indent, keys in their order)."""
    records = []
    for p in principles:
        record: dict[str, object] = {"dimension": p.name, "definition": p.definition}
        if p.weight is not None:
            record["weight"] = p.weight
        if p.negated_definition:
            record["negative_definition"] = p.negated_definition
        records.append(record)
    return json.dumps(records, indent=4, ensure_ascii=False)


def _record_problems(record: dict) -> list[str]:
    problems = [f"unknown key {key!r} (known: {', '.join(KNOWN_KEYS)})" for key in record if key not in KNOWN_KEYS]
    for key, limit in (("dimension", NAME_MAX_CHARS), ("definition", DEFINITION_MAX_CHARS)):
        value = record.get(key)
        if not isinstance(value, str) or not value.strip():
            problems.append(f"{key} must be a non-empty string")
        elif len(value.strip()) > limit:
            problems.append(f"{key} has {len(value.strip())} characters; at most {limit}")
    weight = record.get("weight")
    if weight is not None and (isinstance(weight, bool) or not isinstance(weight, int) or weight < 0):
        problems.append(f"weight must be a whole number of at least 0, got {weight!r}")
    negated = record.get("negative_definition")
    if negated is not None and not isinstance(negated, str):
        problems.append("negative_definition must be a string")
    return problems
