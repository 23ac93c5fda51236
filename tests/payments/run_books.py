"""Books for payment-run tests: vendors with a bank account a second person approved (payable now:
the tenant's cooling-off set to 0 days), approved invoices, and the two people of the four eyes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from schwifty import IBAN

from core.actors import Actor
from invoices.models import InvoiceStatus
from payments.models import PaymentRun
from payments.runs.services import payment_run_propose
from tenants.models import Role, Tenant, TenantSettings
from tests.factories import InvoiceFactory, MembershipFactory, UserFactory, VendorFactory
from vendors.bank_accounts import vendor_bank_account_approve, vendor_bank_account_propose
from vendors.models import Vendor

DEBTOR_IBAN = "DE89370400440532013000"
DEBTOR_BIC = "COBADEFFXXX"
DUE_BY = dt.date(2026, 11, 30)


def run_proposed(tenant: Tenant, clerk: Any, **options: Any) -> PaymentRun:
    """A euro run due by DUE_BY, paid from the test debtor account, proposed by `clerk`; `options`
    override any of payment_run_propose's arguments."""
    arguments = {"currency": "EUR", "due_by": DUE_BY, "debtor_name": "Acme Manufacturing", "debtor_iban": DEBTOR_IBAN}
    return payment_run_propose(tenant=tenant, actor=actor_of(clerk), **(arguments | options))


def vendor_iban(number: int) -> str:
    return str(IBAN.generate("NL", bank_code="ABNA", account_code=f"{417164300 + number:010d}"))


def actor_of(user: Any) -> Actor:
    return Actor(kind="user", id=str(user.pk), label=user.get_username())


def people(tenant: Tenant) -> tuple[Any, Any]:
    """A clerk who proposes and an approver who approves."""
    clerk = MembershipFactory(tenant=tenant, user=UserFactory(username=f"cleo-{tenant.pk}"), role=Role.CLERK).user
    approver = MembershipFactory(tenant=tenant, user=UserFactory(username=f"ada-{tenant.pk}"), role=Role.APPROVER).user
    return clerk, approver


def paying_vendor(tenant: Tenant, name: str, number: int, *, clerk: Any, approver: Any, approve: bool = True) -> Vendor:
    """A vendor whose IBAN was proposed by the clerk and (unless `approve` is false) approved by the
    approver, payable at once (cooling-off 0 days)."""
    TenantSettings.objects.filter(tenant=tenant).update(bank_account_cooling_off_days=0)
    vendor = VendorFactory(tenant=tenant, name=name)
    account = vendor_bank_account_propose(
        tenant=tenant, vendor=vendor, actor=actor_of(clerk), role=Role.CLERK, iban=vendor_iban(number)
    )
    if approve:
        vendor_bank_account_approve(tenant=tenant, account=account, actor=actor_of(approver), role=Role.APPROVER)
    return vendor


def approved_invoice(
    vendor: Vendor, number: str, total: int, *, due: dt.date = dt.date(2026, 11, 15), **kw: Any
) -> Any:
    return InvoiceFactory(
        tenant=vendor.tenant,
        vendor=vendor,
        invoice_number=number,
        total_amount=total,
        status=InvoiceStatus.APPROVED,
        due_date=due,
        **kw,
    )
