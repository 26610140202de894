"""Template filters that show stored JSON (provenance, counts) in words instead of Python's repr."""
from __future__ import annotations

from typing import Any

from django import template

register = template.Library()


@register.filter
def words(key: Any) -> str:
    """A stored key as a label: "prompts_from_campaign" -> "Prompts from campaign"."""
    text = str(key).replace("_", " ").strip()
    return text[:1].upper() + text[1:]


@register.filter
def readable(value: Any) -> str:
    """A stored value in plain text: mappings as "label: value" pairs, lists joined, nothing as a dash."""
    if value is None or value == "" or value == {} or value == []:
        return "—"
    if isinstance(value, dict):
        return "; ".join(f"{words(k).lower()}: {readable(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(readable(v) for v in value)
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)
