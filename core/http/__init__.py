"""The HTTP edge every app's API stands on, knowing no app: the error envelope, the JSON parser,
money/quantity/date fields, filters and cursor paging, upload reading, OpenAPI helpers and the
request-id middleware. The tenant-aware part (authentication's result, idempotent POSTs, rate
limits, the web shell) is `tenants.http`, one layer up, because it reads tenants' tables.
"""
