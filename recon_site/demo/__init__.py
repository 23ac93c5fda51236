"""The demo tenant `make run` loads: three months of an AP department's work, generated, not fixed.

A fixed random seed and dates counted from today make the same month every run, with this week
and the cash forecast always populated. Every document, decision and payment goes through the
services the API and the web app use, so the audit trail is the real one and verifies.

Modules: `catalog` (vendors, items, services: static tables), `plan` (the plain records and the
seeded randomness the other modules share), `people` (demo users and roles),
`vendors_and_pos` (vendors, purchase orders, goods receipts, PO closes and cancels), `invoices`
(what vendors send, with the deviations that give each discrepancy type), `decisions` (what the
clerks and approvers decide, and the credit notes and corrected invoices that follow), `bank`
(the weekly transfers, bank statements, reconciliation and the clerk's bank work), `paying` (the
vendors' bank accounts under four eyes and a payment run through Recon), `risks` (the bills
the risk signals catch: a forged bank account, a zero too many, the rent billed twice by a new
vendor), and `timeline` (the day-by-day loop that ties them together, `demo_tenant_load`).
"""
