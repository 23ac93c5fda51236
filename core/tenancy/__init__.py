"""The tenancy mechanism: tenant-owned models and their scoped querysets, PostgreSQL row-level
security (the per-transaction tenant setting, the database roles it relies on) and the database
backend that applies the scope to every connection. It names no app: a tenant is whatever row
`tenants.Tenant` holds, referred to here by id (see `TenantRef`).
"""
