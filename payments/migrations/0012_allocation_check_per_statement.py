"""The allocation trigger checks a statement's rows together, not one row at a time.

The checks are 0007's, unchanged: payment, invoice and allocation of one tenant and one currency;
a reversal mirrors the allocation it cancels; a payment's net money allocations never exceed
it; an invoice's net allocations never exceed its amount due less its live credit notes. Row by
row, each of a reconciliation run's ~1,800 allocations locked its payment and invoice and summed
both again: 460 ms of a 560 ms INSERT (EXPLAIN ANALYZE, bench_reconcile 2,000 × 2,000), the
largest part of the database's work in a run. Per statement, over the transition table of the
rows just inserted, each check is one set-based query.

Still an AFTER trigger, so it sees every row of the statement, as the row-level one did (row
triggers fire at the statement's end too); a violation raises the same message for the lowest
offending id. The rows are locked `FOR NO KEY UPDATE` in id order, invoices then payments, as
payments.reconciliation.writing locks them (core/locks.py).
"""

import importlib

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION payments_allocation_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    bad record;
BEGIN
    PERFORM 1 FROM invoices_invoice WHERE id = ANY(ARRAY(SELECT invoice_id FROM added))
        ORDER BY id FOR NO KEY UPDATE;
    PERFORM 1 FROM payments_payment WHERE id = ANY(ARRAY(SELECT payment_id FROM added))
        ORDER BY id FOR NO KEY UPDATE;
    -- Tenant and currency in one pass: the statement's payments and invoices by their ids (one
    -- index scan each), hashed against its rows.
    WITH payment AS MATERIALIZED (
        SELECT id, tenant_id, currency FROM payments_payment WHERE id = ANY(ARRAY(SELECT payment_id FROM added))
    ), invoice AS MATERIALIZED (
        SELECT id, tenant_id, currency FROM invoices_invoice WHERE id = ANY(ARRAY(SELECT invoice_id FROM added))
    )
    SELECT a.id, (p.tenant_id <> a.tenant_id OR i.tenant_id <> a.tenant_id) AS other_tenant INTO bad
        FROM added a JOIN payment p ON p.id = a.payment_id JOIN invoice i ON i.id = a.invoice_id
        WHERE p.tenant_id <> a.tenant_id OR i.tenant_id <> a.tenant_id
           OR p.currency <> a.currency OR i.currency <> a.currency
        ORDER BY 2 DESC, a.id LIMIT 1;
    IF FOUND AND bad.other_tenant THEN
        RAISE EXCEPTION 'allocation %: payment, invoice and allocation belong to one tenant', bad.id
            USING ERRCODE = 'check_violation';
    ELSIF FOUND THEN
        RAISE EXCEPTION 'allocation %: payment, invoice and allocation share one currency', bad.id
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT a.id INTO bad FROM added a
        CROSS JOIN LATERAL (
            SELECT reversal_of_id, payment_id, invoice_id, kind, amount
            FROM payments_paymentallocation WHERE id = a.reversal_of_id
        ) original
        WHERE a.reversal_of_id IS NOT NULL
          AND (original.reversal_of_id IS NOT NULL OR original.payment_id <> a.payment_id
               OR original.invoice_id <> a.invoice_id OR original.kind <> a.kind
               OR original.amount <> a.amount)
        ORDER BY a.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'allocation %: a reversal mirrors the allocation it cancels', bad.id
            USING ERRCODE = 'check_violation';
    END IF;
    -- The limits, for the payments and invoices of the rows that are not reversals (a reversal
    -- only gives back). Each sum by its own index probe (LATERAL): a join over the sets let the
    -- planner hash whole tables.
    SELECT p.id, paid.net, p.amount INTO bad
        FROM payments_payment p
        CROSS JOIN LATERAL (
            SELECT COALESCE(SUM(CASE WHEN reversal_of_id IS NULL THEN amount ELSE -amount END), 0) AS net
            FROM payments_paymentallocation WHERE payment_id = p.id AND kind = 'payment'
        ) paid
        WHERE p.id = ANY(ARRAY(SELECT payment_id FROM added WHERE reversal_of_id IS NULL))
          AND paid.net > p.amount
        ORDER BY p.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'payment %: allocations (%) exceed the payment (%)', bad.id, bad.net, bad.amount
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT i.id, allocated.net, i.amount_due - credited.total AS open INTO bad
        FROM invoices_invoice i
        CROSS JOIN LATERAL (
            SELECT COALESCE(SUM(CASE WHEN reversal_of_id IS NULL THEN amount ELSE -amount END), 0) AS net
            FROM payments_paymentallocation WHERE invoice_id = i.id
        ) allocated
        CROSS JOIN LATERAL (
            SELECT COALESCE(SUM(amount_due), 0) AS total FROM invoices_invoice
            WHERE credited_invoice_id = i.id AND document_type = 'credit_note'
              AND status NOT IN ('void', 'rejected')
        ) credited
        WHERE i.id = ANY(ARRAY(SELECT invoice_id FROM added WHERE reversal_of_id IS NULL))
          AND allocated.net > i.amount_due - credited.total
        ORDER BY i.id LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'invoice %: allocations (%) exceed its open amount (%)', bad.id, bad.net, bad.open
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
"""

PER_STATEMENT = (
    FUNCTION
    + """
DROP TRIGGER payments_allocation_check ON payments_paymentallocation;
CREATE TRIGGER payments_allocation_check
    AFTER INSERT ON payments_paymentallocation
    REFERENCING NEW TABLE AS added
    FOR EACH STATEMENT EXECUTE FUNCTION payments_allocation_check();
"""
)

# Back to 0007: the row-level function and trigger.
PER_ROW = (
    """
DROP TRIGGER payments_allocation_check ON payments_paymentallocation;
"""
    + importlib.import_module("payments.migrations.0007_allocation_limit_on_amount_due").FUNCTION
    + """
CREATE TRIGGER payments_allocation_check
    AFTER INSERT ON payments_paymentallocation
    FOR EACH ROW EXECUTE FUNCTION payments_allocation_check();
"""
)


class Migration(migrations.Migration):
    dependencies = [("payments", "0011_run_returns")]

    operations = [migrations.RunSQL(PER_STATEMENT, PER_ROW)]
