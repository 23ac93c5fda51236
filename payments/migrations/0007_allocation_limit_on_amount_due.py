"""The allocation trigger's invoice limit is the amount due, as the services' open balance is.

0003_allocation_limits capped an invoice's net allocations at its total − its live credit notes.
With the prepaid amount stored (EN 16931 BT-113, invoices 0009) the services cap them at the
amount due (total − prepaid) − what the live credit notes still take off (their amount due), see
payments.reconciliation.loading; the database's second line must agree, or a write that skips the
services could allocate the prepaid part a second time. Only the function body changes: the
trigger keeps calling it by name.

It also locks the payment and invoice rows `FOR NO KEY UPDATE` (0003 took `FOR UPDATE`): that
still serializes two writers of one invoice's allocations, but no longer blocks the `FOR KEY
SHARE` that a foreign-key check of any row referencing the invoice takes (core/locks.py).
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION payments_allocation_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payment_row payments_payment%ROWTYPE;
    invoice_row invoices_invoice%ROWTYPE;
    original payments_paymentallocation%ROWTYPE;
    paid bigint;
    allocated bigint;
    credited bigint;
BEGIN
    SELECT * INTO payment_row FROM payments_payment WHERE id = NEW.payment_id FOR NO KEY UPDATE;
    SELECT * INTO invoice_row FROM invoices_invoice WHERE id = NEW.invoice_id FOR NO KEY UPDATE;
    IF payment_row.tenant_id <> NEW.tenant_id OR invoice_row.tenant_id <> NEW.tenant_id THEN
        RAISE EXCEPTION 'allocation %: payment, invoice and allocation belong to one tenant', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF payment_row.currency <> NEW.currency OR invoice_row.currency <> NEW.currency THEN
        RAISE EXCEPTION 'allocation %: payment, invoice and allocation share one currency', NEW.id
            USING ERRCODE = 'check_violation';
    END IF;
    IF NEW.reversal_of_id IS NOT NULL THEN
        SELECT * INTO original FROM payments_paymentallocation WHERE id = NEW.reversal_of_id;
        IF original.reversal_of_id IS NOT NULL OR original.payment_id <> NEW.payment_id
           OR original.invoice_id <> NEW.invoice_id OR original.kind <> NEW.kind
           OR original.amount <> NEW.amount THEN
            RAISE EXCEPTION 'allocation %: a reversal mirrors the allocation it cancels', NEW.id
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END IF;
    SELECT COALESCE(SUM(CASE WHEN reversal_of_id IS NULL THEN amount ELSE -amount END), 0) INTO paid
        FROM payments_paymentallocation WHERE payment_id = NEW.payment_id AND kind = 'payment';
    IF paid > payment_row.amount THEN
        RAISE EXCEPTION 'payment %: allocations (%) exceed the payment (%)', NEW.payment_id, paid, payment_row.amount
            USING ERRCODE = 'check_violation';
    END IF;
    SELECT COALESCE(SUM(CASE WHEN reversal_of_id IS NULL THEN amount ELSE -amount END), 0) INTO allocated
        FROM payments_paymentallocation WHERE invoice_id = NEW.invoice_id;
    SELECT COALESCE(SUM(amount_due), 0) INTO credited
        FROM invoices_invoice
        WHERE credited_invoice_id = NEW.invoice_id AND document_type = 'credit_note'
          AND status NOT IN ('void', 'rejected');
    IF allocated > invoice_row.amount_due - credited THEN
        RAISE EXCEPTION 'invoice %: allocations (%) exceed its open amount (%)',
            NEW.invoice_id, allocated, invoice_row.amount_due - credited
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;
"""

# 0003's body, for going back: the same function with the total in place of the amount due.
PREVIOUS = FUNCTION.replace("SUM(amount_due)", "SUM(total_amount)").replace(
    "invoice_row.amount_due", "invoice_row.total_amount"
)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0006_time_ordered_ids"),
        ("invoices", "0009_prepaid_amount_due_and_sign_conversion"),
    ]

    operations = [migrations.RunSQL(FUNCTION, PREVIOUS)]
