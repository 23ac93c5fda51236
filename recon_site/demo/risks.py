"""The risk signals (matching.engine.risk): the bills an AP clerk meets a few times a year and
must not pay, one document each, arriving in the last two days so that they wait in the
approver's escalated queue when the demo opens.

- A forged bill: ServiTech's usual maintenance visit, asking to be paid to an account ServiTech
  never had ("our bank details have changed"): `bank_account_mismatch` [critical].
- Müller's certificates bill, arriving while the new bank details approved this week (`paying`)
  are still cooling off: `bank_account_changed`.
- Personal Plus's weekly temporary-staff bill with a zero too many, ten times its usual:
  `unusual_amount`.
- A property manager the clerk set up this week, whose bank account is the landlord's, billing
  the rent a second time: its first invoice is above the limit the administrator set that day
  for a new vendor's first invoice in euros (`new_vendor_large_invoice`), and the landlord, paid to
  the same account, has an invoice of the same total (`shared_bank_account`).

The vendor and the limit are set up on the third-last working day (`risks_day`), through the
same services as the web app's pages, each audited.
"""

from __future__ import annotations

from decimal import Decimal

from core.amount_limits import amount_limits_default
from core.money import to_minor
from recon_site.demo.invoices import vat_rate
from recon_site.demo.paying import FORGED_VENDOR, PayingDesk, account_approve, account_propose, changed_account
from recon_site.demo.plan import BilledLine, DemoCalendar, InvoicePlan, VendorPlan
from recon_site.demo.suppliers import VendorEntry
from recon_site.demo.vendors_and_pos import bank_account
from tenants.services import currency_limit_save
from vendors.services import vendor_create

CHANGED_VENDOR = "mueller"  # paying.COOLING_OFF_VENDOR: its new account cools off at the end
UNUSUAL_VENDOR = "personalplus"
LANDLORD = "immobilien"
PROPERTY_MANAGER = VendorEntry(
    key="parkverwaltung",
    name="Industriepark Süd Verwaltung GmbH",
    country="DE",
    currency="EUR",
    category="rent",
    channel="csv",
    has_tax_id=False,
)
# What the administrator sets as the largest first invoice of a new vendor in euros.
NEW_VENDOR_LIMIT_EUR = Decimal(5000)
MANAGER_SET_UP = "New property manager of Industriepark Süd, as their letter says; bank details from the letter."
MANAGER_CHECKED = "Bank details as in the property manager's letter."


def property_manager_plan(landlord: VendorPlan) -> VendorPlan:
    """The new vendor: the landlord's bank account (it bills the same rent to the same account)."""
    return VendorPlan(
        entry=PROPERTY_MANAGER,
        tax_id="",
        iban=landlord.iban,
        other_iban="",
        number_format="PV-{year}-{n:03d}",
        first_number=1,
    )


def _bill(
    vendor: VendorPlan, *, day: int, lines: tuple[BilledLine, ...], payee_account: str = "", scenario: str
) -> InvoicePlan:
    """A bill without a PO, dated the day before it arrives on `day`, by the vendor's channel."""
    return InvoicePlan(
        number="",
        vendor=vendor,
        vendor_name=vendor.name,
        currency=vendor.currency,
        invoice_day=day - 1,
        arrival_day=day,
        lines=lines,
        tax_rate=vat_rate(vendor),
        terms_days=vendor.entry.terms_days,
        scenario=scenario,
        named_by="id" if vendor.entry.channel == "api" else "name",
        source=vendor.entry.channel,
        payee_account=payee_account,
    )


def risk_invoices(vendors: list[VendorPlan], calendar: DemoCalendar) -> list[InvoicePlan]:
    """The four documents (see the module's docstring), numbered with each vendor's others."""
    by_key = {plan.key: plan for plan in vendors}
    month = f"{calendar.date(0):%m/%Y}"
    forged, changed, unusual = by_key[FORGED_VENDOR], by_key[CHANGED_VENDOR], by_key[UNUSUAL_VENDOR]
    return [
        _bill(
            forged,
            day=-1,
            lines=(
                BilledLine("Maintenance visit, press line 2", Decimal(1), Decimal("1640.00")),
                BilledLine("Spare parts", Decimal(1), Decimal("412.80")),
            ),
            # The fraudster's account, printed under "Our bank details have changed".
            payee_account=bank_account(forged.entry.country, purpose=f"{forged.key}-forged"),
            scenario="forged_account",
        ),
        _bill(
            unusual,
            day=-1,
            # A week of temporary staff, usually 5,200 to 7,400 before VAT: 6,240.00 with a zero too many.
            lines=(BilledLine(f"Temporary staff, production, {month}", Decimal(1), Decimal("62400.00")),),
            scenario="zero_too_many",
        ),
        _bill(
            changed,
            day=0,
            lines=(BilledLine(f"Inspection certificates EN 10204 3.1, {month}", Decimal(1), Decimal("145.00")),),
            payee_account=changed_account(changed),
            scenario="changed_account",
        ),
        _bill(
            property_manager_plan(by_key[LANDLORD]),
            day=0,
            lines=(BilledLine(f"Rent hall 3 and offices {month}", Decimal(1), Decimal("18500.00")),),
            payee_account=by_key[LANDLORD].iban,
            scenario="rent_twice",
        ),
    ]


def risks_day(*, desk: PayingDesk, day: int) -> None:
    """On the third-last working day: the administrator sets the euro limit for a new vendor's
    first invoice, the clerk sets up the property manager, clerk2 enters the bank account of its
    letter and the administrator approves the account (it cools off, as every new account does)."""
    if day != desk.last_workdays[0]:
        return
    bank = desk.bank
    tenant, admin = bank.tenant, bank.people.actors["admin"]
    limits = amount_limits_default(currency="EUR")
    currency_limit_save(
        tenant=tenant,
        actor=admin,
        currency="EUR",
        auto_approve_below=limits.auto_approve_below,
        escalate_from=limits.escalate_from,
        write_off_max=limits.write_off_max,
        price_tolerance_floor=limits.price_tolerance_floor,
        new_vendor_first_invoice_max=to_minor(NEW_VENDOR_LIMIT_EUR, "EUR"),
    )
    plan = property_manager_plan(desk.plans[LANDLORD])
    desk.vendors[plan.key] = vendor_create(
        tenant=tenant, actor=bank.people.actors["clerk"], name=plan.name, currency=plan.currency
    )
    desk.plans[plan.key] = plan
    account = account_propose(desk, key=plan.key, number=plan.iban, comment=MANAGER_SET_UP)
    account_approve(desk, account, comment=MANAGER_CHECKED)
