"""JSON request bodies, refused with a 400 when no real request could look like them."""
from __future__ import annotations

from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

NUL = "\x00"


class CheckedJSONParser(JSONParser):
    """DRF's JSON parser, plus: nesting too deep for Python's parser is a 400, and so is a NUL
    character in any string (PostgreSQL text cannot hold one), with the field named."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error: nested too deeply.") from None
        where = _nul_path(data, "")
        if where is not None:
            raise ValidationError({where or "body": ["contains a NUL character (\\0), which text cannot hold."]})
        return data


def _nul_path(value, path: str) -> str | None:
    """Where the first NUL character is, as a dotted path ("config.name"), or None."""
    stack = [(value, path)]
    while stack:  # iterative: the parser already bounds the depth, but a walk need not recurse
        item, where = stack.pop()
        if isinstance(item, str):
            if NUL in item:
                return where
        elif isinstance(item, dict):
            for key, inner in item.items():
                name = f"{where}.{key}" if where else str(key)
                if NUL in str(key):
                    return name.replace(NUL, "\\0")
                stack.append((inner, name))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(item))
    return None
