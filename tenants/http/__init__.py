"""Requests in a tenant: the base of every tenant API view (tenant from the API key or the
signed-in member, idempotent POSTs, conflict retry), per-tenant and per-IP rate limits, sign-in
throttling and the web shell's tenant view decorator. Apps' APIs and screens build on it.
"""
