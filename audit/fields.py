"""The fields of an audit event, named once: those its hash covers (audit.chain, and so the
verification), and those a reader of a tenant's trail gets (the export command's columns, the API).
A field added to the event is added here, and the hash, the verification, the export and the API
follow together; tests/audit/test_fields.py ties each of them to these names.
"""

from __future__ import annotations

# Who acted: three columns, which the API shows as one `actor` object.
ACTOR_FIELDS = ("actor_kind", "actor_id", "actor_label")

# What an event's hash covers (audit.chain.canonical_form), in the model's column order: the
# canonical form sorts its keys itself, so this order is only the export's.
HASHED_FIELDS = (
    "tenant_id",
    "sequence",
    "occurred_at",
    *ACTOR_FIELDS,
    "entity_type",
    "entity_id",
    "action",
    "before",
    "after",
    "request_id",
    "prev_hash",
)

# The event's place in its tenant's chain: empty when it is written, set once by the sealer
# (audit.sealer), the only change the table lets through (migration 0005).
CHAIN_FIELDS = ("sequence", "prev_hash", "hash")

# The order of writing, stamped by the database on insert (the transaction's id, then a database
# sequence): the order the sealer chains in, so sealed events in `sequence` order are in this
# order too (the verification checks it), and readers list events, sealed or not, by it.
WRITE_ORDER_FIELDS = ("xid", "append_seq")

# An event as a reader of one tenant's trail gets it: everything the hash covers, and the hash,
# so anyone can re-hash it with audit/chain.py's rules. The tenant is left out: it is the
# reader's own (the export's JSON lines put it back in, for re-hashing).
PUBLISHED_FIELDS = (*(name for name in HASHED_FIELDS if name != "tenant_id"), "hash")
