"""Reconciliation of bank payments against open invoices (DESIGN.md §6).

`engine` is pure (dataclasses in, a proposal out); `services` loads, locks and writes.
"""
