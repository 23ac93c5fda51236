"""A JSON parser that never produces a float (numbers become `Decimal`s) nor a NUL character.

A string holding `\u0000` is refused here, for every endpoint and every field at once (a 400
naming each path), rather than by each serializer field: PostgreSQL can store it in neither
text nor jsonb (core.text).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import JSONParser

from core.problems import MAX_PROBLEMS_REPORTED
from core.text import NUL_REFUSED, nul_paths

MAX_JSON_DEPTH = 32


def _depth(value: Any, limit: int) -> int:
    # Only containers are stacked: a leaf is one level below its container, so a batch's
    # thousands of strings and numbers are looked at once each, never pushed and popped.
    if not isinstance(value, dict | list):
        return 1
    stack = [(value, 1)]
    deepest = 1
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        for child in children:
            if isinstance(child, dict | list):
                if depth + 1 > limit:
                    return depth + 1
                stack.append((child, depth + 1))
            elif depth + 1 > deepest:
                deepest = depth + 1
        deepest = max(deepest, depth)
    return deepest


class DecimalJSONParser(JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Mapping[str, Any] | None = None) -> Any:
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            raw = stream.read() if stream is not None else b""
            raw_text = raw.decode(encoding)
            data = json.loads(raw_text, parse_float=Decimal, parse_constant=_refuse_constant)
        except RecursionError as exc:
            raise ParseError("JSON is nested too deeply.") from exc
        except LookupError as exc:  # a charset that names no text encoding (bz2_codec, rot13)
            raise ParseError(f"Unsupported charset {encoding!r} in the Content-Type header.") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"Malformed JSON: {exc}") from exc
        if _depth(data, MAX_JSON_DEPTH) > MAX_JSON_DEPTH:
            raise ParseError(f"JSON is nested deeper than {MAX_JSON_DEPTH} levels.")
        # Strict JSON (json.loads refuses a raw control character in a string) can only spell a
        # NUL as the escape `\u0000`: text without it has none, and the walk is spared. (With
        # it the walk decides: `\\u0000` is a backslash and "u0000", no NUL.)
        if "\\u0000" in raw_text and (paths := nul_paths(data, limit=MAX_PROBLEMS_REPORTED)):
            raise ValidationError({path: [NUL_REFUSED] for path in paths})
        return data


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a valid JSON number")
