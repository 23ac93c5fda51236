"""The Import page: a clerk brings in invoices, purchase orders and goods receipts (CSV),
e-invoices (UBL, CII, Factur-X / ZUGFeRD PDFs) and bank statements (CAMT.053, MT940, CSV), one
file or many, checks them with a dry run and imports them.

Every file goes through the very service its API endpoint calls (core.csv_reading through
source_files, invoices.ingest.e_invoices, payments.services.statement_import), with the same
all-or-nothing rules and the same messages; this package only decides which service a file
goes to (`kinds`), runs the check and the import in the request or, for large files, in a
django-q2 worker with a progress row (`services`, `progress`, `tasks`), and shows them (`views`).
"""
