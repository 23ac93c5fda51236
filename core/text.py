"""Text PostgreSQL can store: no NUL character, whatever the source.

PostgreSQL's text types cannot hold U+0000 (psycopg refuses with `DataError: PostgreSQL text
fields cannot contain NUL (0x00) bytes`), and jsonb refuses the `\\u0000` escape. A NUL that got
as far as an INSERT was a 500 — for a webhook sender, a retry loop. So every way text comes in
refuses it first, naming where it is: the JSON parser of the API and of webhooks (by payload
path), the CSV readers (by row and column), the statement entry point (by line, before a parser
sees the bytes), and the invoice door itself for anything else.
"""

from __future__ import annotations

from typing import IO, Any

from django.db import models

NUL = "\x00"
NUL_REFUSED = "Contains a NUL character (\\u0000), which cannot be stored; remove it."
NUL_IN_FILE = (
    "This line contains a NUL byte (0x00), which cannot be stored; "
    "if the file is UTF-16 or binary, save it as UTF-8 text."
)

TOO_LONG = "At most {limit} characters."

_CHUNK = 1 << 16


def column_max_length(model: type[models.Model], field_name: str) -> int:
    """A text column's limit, read from the model so a source never disagrees with the table."""
    column = model._meta.get_field(field_name)
    assert isinstance(column, models.Field) and column.max_length is not None
    return column.max_length


def length_error(value: str, model: type[models.Model], field_name: str) -> str | None:
    """`TOO_LONG` when `value` does not fit the model's column, else None.

    The REST serializers bound every text; the other sources (files, webhooks) must too, or an
    overlong value would reach the database as a 500 instead of a 400.
    """
    limit = column_max_length(model, field_name)
    return TOO_LONG.format(limit=limit) if len(value) > limit else None


def nul_error(value: str) -> str | None:
    """`NUL_REFUSED` when `value` holds a NUL character, else None."""
    return NUL_REFUSED if NUL in value else None


def _shown(key: str) -> str:
    return key.replace(NUL, "\\u0000")


def nul_paths(value: Any, *, limit: int) -> list[str]:
    """Where parsed JSON holds a NUL, in document order, at most `limit` paths.

    Paths are written as the API reports errors (`lines[1].description`, `Bill.Line[0].Amount`);
    a key that itself holds a NUL is the path, shown with `\\u0000`. Iterative, so a deeply nested
    document cannot exhaust the stack.
    """
    found: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    while stack and len(found) < limit:
        path, node = stack.pop()
        if isinstance(node, str):
            if NUL in node:
                found.append(path or "non_field_errors")
            continue
        children: list[tuple[str, Any]] = []
        if isinstance(node, dict):
            for key, child in node.items():
                child_path = f"{path}.{_shown(str(key))}" if path else _shown(str(key))
                # A key holding a NUL is reported as its own path, in document order.
                children.append((child_path, NUL if NUL in str(key) else child))
        elif isinstance(node, list):
            children = [(f"{path}[{index}]", child) for index, child in enumerate(node)]
        stack.extend(reversed(children))
    return found


def nul_lines(binary: IO[bytes], *, limit: int) -> list[int]:
    """The numbers (from 1) of the lines of `binary` that hold a NUL byte, at most `limit` of them.

    Read in chunks, so a large file is never in memory whole; the file is left at its start.
    """
    binary.seek(0)
    found: list[int] = []
    line = 1
    skipping = False  # inside a line already reported whose end lies in a later chunk
    while len(found) < limit and (chunk := binary.read(_CHUNK)):
        start = 0
        if skipping:
            end = chunk.find(b"\n")
            if end == -1:
                continue
            skipping, start = False, end
        while len(found) < limit and (position := chunk.find(b"\x00", start)) != -1:
            line += chunk.count(b"\n", start, position)
            found.append(line)
            # One report per line: a UTF-16 file has a NUL in every other byte.
            end = chunk.find(b"\n", position)
            if end == -1:
                skipping, start = True, len(chunk)
                break
            start = end  # its "\n" is counted by the next count
        line += chunk.count(b"\n", start)
    binary.seek(0)
    return found
