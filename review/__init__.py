"""The clerk's and approver's work on matched invoices: the review queues, the invoice page with
its 3-way comparison, the decisions (approve, reject, escalate, dispute, bulk approval) and the
invoice API that shows each invoice with its latest match.

Its own app, above matching, because everything here reads a match result; `invoices` below it
keeps the documents, their lifecycle and the doors they come in by.
"""
