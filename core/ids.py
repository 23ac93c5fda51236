"""Row ids: UUID version 7 (RFC 9562), time-ordered.

The first 48 bits are the Unix time in milliseconds, the rest (74 bits) random, so ids are as
unguessable as before for anyone without the rows, and sort in creation order. That order is
what the indexes need: a B-tree entry for a random (version 4) id lands on a random leaf page,
so a matching batch's thousand invoice-line updates, and its inserts of results, discrepancies,
audit events and outbox messages, touched a thousand-odd pages of every id index, each written
whole to the WAL after a checkpoint and each a cache miss once the index outgrew memory: time
per invoice grew with the database. With time-ordered ids the rows of one batch, and the
documents they point at (created about when the invoice was), sit on a few neighbouring pages.
(Measured in the README, "Figures".) The creation time an id reveals is in `created_at` anyway.
"""

from __future__ import annotations

import os
import time
import uuid

_VERSION = 0x7 << 76
_VARIANT = 0x2 << 62  # RFC 9562 variant, 0b10
_CLEAR = ~((0xF << 76) | (0x3 << 62))


def uuid7() -> uuid.UUID:
    """A new time-ordered UUID: 48 bits of milliseconds, version, 74 random bits, variant."""
    value = ((time.time_ns() // 1_000_000) << 80) | int.from_bytes(os.urandom(10), "big")
    return uuid.UUID(int=(value & _CLEAR) | _VERSION | _VARIANT)


def uuid7_many(count: int) -> list[uuid.UUID]:
    """`count` new ids as `uuid7` makes them, for the many rows of a bulk write (an import's lines):
    one clock reading and one read of the random source for all of them, which cost more than the
    rest of each id. Ids of one call share their millisecond; their order within it is random, as
    that of ids made one by one within a millisecond is."""
    millis = (time.time_ns() // 1_000_000) << 80
    random = os.urandom(10 * count)
    from_bytes = int.from_bytes
    return [
        uuid.UUID(int=((millis | from_bytes(random[at : at + 10], "big")) & _CLEAR) | _VERSION | _VARIANT)
        for at in range(0, 10 * count, 10)
    ]
