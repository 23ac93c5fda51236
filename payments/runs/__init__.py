"""Payment runs (DESIGN.md §6a, #19 item 4): approved invoices of one currency, due by a date,
proposed together, edited by a clerk, approved by another person, written as an ISO 20022
pain.001 credit-transfer file (a CSV for currencies SEPA does not carry).

- `proposal`: which invoices a run takes and why the others are left out (pure, no ORM).
- `creditors`: the account each vendor is paid to, from the vendors' bank accounts.
- `files`: the pain.001 (.09 or .03) and CSV writers and the XSD check (pure).
- `services`: propose, remove / add a line, approve (four eyes), cancel — audited, through the
  invoice lifecycle's one transition function.
"""
