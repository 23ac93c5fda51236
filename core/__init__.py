"""Recon's kernel: what every app uses, importing no app.

Money and quantities, ids, domain exceptions, the state-machine helper, the lock order, crypto,
CSV-cell safety, business dates, storable text and capped problem reports. A plain package, not a
Django app: it has no models, and nothing here may import `recon_site` or any app (an
import-linter contract in `make lint` checks it).
"""
