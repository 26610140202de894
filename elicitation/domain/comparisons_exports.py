"""Comparison exports as JSONL records: TRL's preference formats, Multifaceted-Collection records,
and per-participant context sets for personalised preference models. Generators: flat memory."""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator

import orjson

FORMATS = ("trl", "trl_conversational", "multifaceted", "context_sets")


def pseudonym(participant_public_id) -> str:
    """A stable id for a participant's rows that says nothing about who they are."""
    return hashlib.sha256(f"chorus:{participant_public_id}".encode()).hexdigest()[:16]


# Each row is a dict from elicitation.selectors.comparisons.comparisons_decided.
Row = dict


def chosen_rejected(c: Row) -> tuple[str, str] | None:
    if c["choice"] == "a":
        return c["response_a"], c["response_b"]
    if c["choice"] == "b":
        return c["response_b"], c["response_a"]
    return None  # ties and "both bad" carry no preference direction


def trl_rows(comparisons: Iterable[Row]) -> Iterator[dict]:
    for c in comparisons:
        pair = chosen_rejected(c)
        if pair:
            yield {"prompt": c["prompt"], "chosen": pair[0], "rejected": pair[1]}


def trl_conversational_rows(comparisons: Iterable[Row]) -> Iterator[dict]:
    for c in comparisons:
        pair = chosen_rejected(c)
        if pair:
            yield {
                "prompt": [{"role": "system", "content": c["system_message_text"]},
                           {"role": "user", "content": c["prompt"]}],
                "chosen": [{"role": "assistant", "content": pair[0]}],
                "rejected": [{"role": "assistant", "content": pair[1]}],
            }


def multifaceted_rows(comparisons: Iterable[Row]) -> Iterator[dict]:
    """Janus' Multifaceted Collection shape: the preferred output for a system message."""
    for c in comparisons:
        pair = chosen_rejected(c)
        if pair:
            dims = c["dimensions"] or {}
            yield {
                "system": c["system_message_text"],
                "prompt": c["prompt"],
                "output": pair[0],
                "preference_set": [{"dimension": k, "preference": v} for k, v in sorted(dims.items())],
            }


def context_set_rows(comparisons: Iterable[Row]) -> Iterator[dict]:
    """One record per participant: their system message and labelled pairs (VPL/PAL context sets).
    Expects comparisons ordered by participant."""
    current, record = None, None
    for c in comparisons:
        pair = chosen_rejected(c)
        if pair is None:
            continue
        if c["participant_id"] != current:
            if record:
                yield record
            current = c["participant_id"]
            record = {"user": pseudonym(c["participant_public_id"]), "system_message": c["system_message_text"],
                      "pairs": []}
        record["pairs"].append({"prompt": c["prompt"], "chosen": pair[0], "rejected": pair[1]})
    if record:
        yield record


ROWS = {
    "trl": trl_rows,
    "trl_conversational": trl_conversational_rows,
    "multifaceted": multifaceted_rows,
    "context_sets": context_set_rows,
}


def jsonl(rows: Iterable[dict], *, batch: int = 500) -> Iterator[bytes]:
    """UTF-8 JSON lines, a few hundred per piece: one write per row would cost a system call each.
    orjson because exports run to millions of rows, where the stdlib encoder is the bottleneck."""
    lines: list[bytes] = []
    for row in rows:
        lines.append(orjson.dumps(row))
        if len(lines) == batch:
            yield b"\n".join(lines) + b"\n"
            lines = []
    if lines:
        yield b"\n".join(lines) + b"\n"
