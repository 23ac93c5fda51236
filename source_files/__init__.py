"""Imported files kept as they arrived (CSV, UBL, CII, PDF, bank statements), once per tenant and content.

The app sits between `audit` and `tenants` (DESIGN.md §2 layers): every door that takes a file
— the tenants app's CSV import action, the purchasing and invoices importers, the payments
statement import — stores it here and links what it created to it, so it must be below all of
them; like `audit`, it names the tenant by its shape (core.tenancy.ref) rather than importing it.
"""
