"""Reconciliation of bank payments against open invoices (DESIGN.md §6).

`engine` is pure (dataclasses in, a proposal out): it asks the `tiers` in order, which read
remittance `references` and the `counterparty`; `services` loads, locks and writes.
"""
