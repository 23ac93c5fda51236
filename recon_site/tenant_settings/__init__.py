"""The tenant administrator's settings pages under /app/settings: matching thresholds and
tolerances, amount limits per currency, vendors' own tolerances, users and roles, API keys,
the webhook secret, the schedules (read-only) and the audit trail of these changes.

They live in the site, not in tenants, because the matching page shows the discrepancy types
with matching's labels (matching.engine.vocabulary, a layer above tenants) and the limits page
lists the currencies of the tenant's documents. The vocabulary stays in matching: it is the
engine's (each type's severity and rules beside it) and part of the API; tenants stores the
codes as data and checks only their shape, and the form here offers exactly the vocabulary.
Every change goes through a service of the app that owns the row, which records the audit
event with the values before and after in the same transaction.
"""
