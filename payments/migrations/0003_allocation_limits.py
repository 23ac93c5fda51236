"""Allocations are history, and they never take more than there is.

The reconciliation services check the limits under row locks; this trigger is the second line,
for any code (or operator) that writes allocations some other way:
- a payment's net money allocations (kind `payment`, minus their reversals) ≤ the payment;
- an invoice's net allocations of every kind ≤ its total − its credit notes (not void/rejected);
- allocation, payment and invoice share one currency and one tenant;
- a reversal mirrors the allocation it cancels (same payment, invoice, kind, amount), and a
  reversal is not itself reversed;
- rows are never updated or deleted (un-allocating is a reversing row).
The trigger locks the payment and invoice rows (`FOR UPDATE`), so two writers that forgot to
are still serialized and cannot both pass the check. TRUNCATE is left to operators and tests.
"""

from django.db import migrations

FORWARD = r"""
CREATE FUNCTION payments_allocation_check() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    payment_row payments_payment%ROWTYPE;
    invoice_row invoices_invoice%ROWTYPE;
    original payments_paymentallocation%ROWTYPE;
    paid bigint;
    allocated bigint;
    credited bigint;
BEGIN
    SELECT * INTO payment_row FROM payments_payment WHERE id = NEW.payment_id FOR UPDATE;
    SELECT * INTO invoice_row FROM invoices_invoice WHERE id = NEW.invoice_id FOR UPDATE;
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
    SELECT COALESCE(SUM(total_amount), 0) INTO credited
        FROM invoices_invoice
        WHERE credited_invoice_id = NEW.invoice_id AND document_type = 'credit_note'
          AND status NOT IN ('void', 'rejected');
    IF allocated > invoice_row.total_amount - credited THEN
        RAISE EXCEPTION 'invoice %: allocations (%) exceed its open amount (%)',
            NEW.invoice_id, allocated, invoice_row.total_amount - credited
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END;
$$;

CREATE TRIGGER payments_allocation_check
    AFTER INSERT ON payments_paymentallocation
    FOR EACH ROW EXECUTE FUNCTION payments_allocation_check();

CREATE FUNCTION payments_allocation_refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is history: % refused (write a reversing allocation)', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$;

CREATE TRIGGER payments_allocation_no_update_delete
    BEFORE UPDATE OR DELETE ON payments_paymentallocation
    FOR EACH ROW EXECUTE FUNCTION payments_allocation_refuse_change();
"""

BACKWARD = """
DROP TRIGGER payments_allocation_no_update_delete ON payments_paymentallocation;
DROP FUNCTION payments_allocation_refuse_change();
DROP TRIGGER payments_allocation_check ON payments_paymentallocation;
DROP FUNCTION payments_allocation_check();
"""


class Migration(migrations.Migration):
    dependencies = [("payments", "0002_reconciliation"), ("invoices", "0003_credit_notes")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD)]
