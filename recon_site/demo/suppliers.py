"""The demo company's vendors: who they are, how they bill, how the company pays them.

A static table, read by `vendors_and_pos` (which creates them), `invoices` and `bank`. A
vendor's `category` names its entry in `catalog.ITEMS` (goods, bought on purchase orders) or in
`catalog.SERVICES` (billed without a PO: freight, rent, utilities...).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Where each vendor's country puts VAT on a German buyer's invoice: domestic German VAT, or
# none (intra-EU reverse charge, imports) except where the demo's older data charged one.
VAT_RATES: dict[str, Decimal] = {"DE": Decimal(19), "JP": Decimal(10), "BH": Decimal(10)}


@dataclass(frozen=True)
class VendorEntry:
    key: str
    name: str
    country: str
    currency: str
    category: str
    aliases: tuple[str, ...] = ()
    terms_days: int = 30
    # How its invoices arrive, and so how they name the vendor: api (vendor id), xml (tax id
    # and name), csv and webhook (name as the vendor prints it).
    channel: str = "api"
    # How many days after the due date the company usually pays it (negative: early, for a
    # cash discount). Gives the cash forecast a history of lateness per vendor.
    days_late: int = 0
    # The company pays several of its invoices with one transfer that lists their numbers.
    paid_in_batches: bool = False
    # Bills a PO's first shipment when it leaves (the rest on delivery): that invoice waits on
    # hold until the goods arrive, for weeks from overseas.
    invoices_at_dispatch: bool = False
    has_tax_id: bool = True


VENDORS: tuple[VendorEntry, ...] = (
    # The five of the first demo, kept so that older screenshots still show them.
    VendorEntry(
        key="acme",
        name="Acme Industrial Supplies Ltd",
        country="DE",
        currency="EUR",
        category="fasteners",
        aliases=("ACME IND SUPPLIES",),
    ),
    VendorEntry(
        key="nordic",
        name="Nordic Fasteners AB",
        country="SE",
        currency="EUR",
        category="fasteners",
        aliases=("Nordic Fasteners Sweden",),
        terms_days=45,
        channel="xml",
    ),
    VendorEntry(
        key="kanto",
        name="Kanto Precision KK",
        country="JP",
        currency="JPY",
        category="automation",
        terms_days=60,
        channel="xml",
        days_late=2,
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="gulf",
        name="Gulf Trading WLL",
        country="BH",
        currency="BHD",
        category="cable",
        days_late=5,
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="brightline",
        name="Brightline Office Supplies Inc",
        country="US",
        currency="USD",
        category="office",
        channel="csv",
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="mueller",
        name="Schraubenwerk Müller GmbH",
        country="DE",
        currency="EUR",
        category="fasteners",
        aliases=("Schraubenwerk Mueller",),
        channel="csv",
    ),
    VendorEntry(
        key="rheinland",
        name="Rheinland Lager & Antriebstechnik GmbH",
        country="DE",
        currency="EUR",
        category="bearings",
        aliases=("RLA GmbH",),
    ),
    VendorEntry(
        key="hydroflex",
        name="HydroFlex Hydraulik GmbH",
        country="DE",
        currency="EUR",
        category="hydraulics",
        channel="xml",
        days_late=8,
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="schneider",
        name="Elektro Schneider KG",
        country="DE",
        currency="EUR",
        category="electrical",
        terms_days=14,
        paid_in_batches=True,
    ),
    VendorEntry(
        key="voltaris",
        name="Voltaris Components B.V.",
        country="NL",
        currency="EUR",
        category="electrical",
        channel="xml",
    ),
    VendorEntry(
        key="safework",
        name="SafeWork Arbeitsschutz GmbH",
        country="DE",
        currency="EUR",
        category="safety",
        channel="csv",
        paid_in_batches=True,
    ),
    VendorEntry(
        key="hoffmann",
        name="Papier & Büro Hoffmann GmbH",
        country="DE",
        currency="EUR",
        category="office",
        aliases=("Buero Hoffmann",),
        terms_days=14,
        channel="webhook",
    ),
    VendorEntry(
        key="packpro",
        name="PackPro Verpackungen GmbH",
        country="DE",
        currency="EUR",
        category="packaging",
        days_late=3,
    ),
    VendorEntry(
        key="lubritec",
        name="Lubritec Schmierstoffe GmbH",
        country="DE",
        currency="EUR",
        category="lubricants",
        channel="xml",
    ),
    VendorEntry(
        key="bauer",
        name="Präzisionswerkzeuge Bauer GmbH",
        country="DE",
        currency="EUR",
        category="tools",
        aliases=("PWZ Bauer",),
        days_late=-4,
    ),
    VendorEntry(
        key="westfalen",
        name="Stahlhandel Westfalen GmbH",
        country="DE",
        currency="EUR",
        category="steel",
        terms_days=45,
        channel="xml",
        days_late=10,
    ),
    VendorEntry(
        key="aluform",
        name="AluForm Profile GmbH",
        country="DE",
        currency="EUR",
        category="aluminium",
    ),
    VendorEntry(
        key="cupromet",
        name="CuproMet Metals S.r.l.",
        country="IT",
        currency="EUR",
        category="cable",
        terms_days=60,
        channel="xml",
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="alpen",
        name="Alpen Antriebe AG",
        country="CH",
        currency="CHF",
        category="bearings",
        days_late=1,
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="britannia",
        name="Britannia Seals & Gaskets Ltd",
        country="GB",
        currency="GBP",
        category="hydraulics",
        channel="csv",
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="midwest",
        name="Midwest Tooling Corp",
        country="US",
        currency="USD",
        category="tools",
        terms_days=45,
        has_tax_id=False,
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="technord",
        name="TechNord IT Solutions ApS",
        country="DK",
        currency="EUR",
        category="it",
        channel="xml",
        invoices_at_dispatch=True,
    ),
    VendorEntry(
        key="lyonchimie",
        name="Lyon Chimie Industrielle SAS",
        country="FR",
        currency="EUR",
        category="lubricants",
        terms_days=45,
        channel="xml",
        days_late=6,
    ),
    VendorEntry(
        key="wiener",
        name="Wiener Elektrotechnik GmbH",
        country="AT",
        currency="EUR",
        category="electrical",
    ),
    VendorEntry(
        key="polska",
        name="Polska Palety Sp. z o.o.",
        country="PL",
        currency="EUR",
        category="packaging",
        aliases=("POLSKA PALETY",),
        terms_days=14,
        channel="csv",
    ),
    VendorEntry(
        key="iberia",
        name="Iberia Componentes S.L.",
        country="ES",
        currency="EUR",
        category="bearings",
        terms_days=60,
        channel="xml",
        has_tax_id=False,
    ),
    VendorEntry(
        key="kaiser",
        name="Kaiser Druckluft GmbH",
        country="DE",
        currency="EUR",
        category="pneumatics",
        paid_in_batches=True,
    ),
    VendorEntry(
        key="cleanline",
        name="Cleanline Betriebsbedarf GmbH",
        country="DE",
        currency="EUR",
        category="safety",
        channel="webhook",
        days_late=4,
    ),
    # Billed without purchase orders.
    VendorEntry(
        key="speedcargo",
        name="SpeedCargo Logistik GmbH",
        country="DE",
        currency="EUR",
        category="freight",
        aliases=("SPEEDCARGO",),
        terms_days=14,
        channel="csv",
        days_late=2,
        paid_in_batches=True,
    ),
    VendorEntry(
        key="baltic",
        name="Baltic Express Spedition GmbH",
        country="DE",
        currency="EUR",
        category="freight",
        paid_in_batches=True,
    ),
    VendorEntry(
        key="stadtwerke",
        name="Stadtwerke Musterstadt",
        country="DE",
        currency="EUR",
        category="utilities",
        aliases=("SWM Energie",),
        terms_days=14,
        channel="xml",
    ),
    VendorEntry(
        key="telenet",
        name="TeleNet Business Services GmbH",
        country="DE",
        currency="EUR",
        category="telecom",
        terms_days=14,
        channel="xml",
    ),
    VendorEntry(
        key="clouddesk",
        name="CloudDesk Software Inc",
        country="US",
        currency="USD",
        category="software",
        has_tax_id=False,
    ),
    VendorEntry(
        key="facility",
        name="Facility Clean Service GmbH",
        country="DE",
        currency="EUR",
        category="cleaning",
    ),
    VendorEntry(
        key="immobilien",
        name="Industriepark Süd Immobilien GmbH",
        country="DE",
        currency="EUR",
        category="rent",
        aliases=("IPS Immobilien",),
        terms_days=10,
    ),
    VendorEntry(
        key="servitech",
        name="ServiTech Wartung GmbH",
        country="DE",
        currency="EUR",
        category="maintenance",
        channel="csv",
        days_late=7,
    ),
    VendorEntry(
        key="personalplus",
        name="Personal Plus Zeitarbeit GmbH",
        country="DE",
        currency="EUR",
        category="staffing",
        terms_days=14,
    ),
    VendorEntry(
        key="berger",
        name="Kanzlei Berger & Partner",
        country="DE",
        currency="EUR",
        category="legal",
        channel="webhook",
        has_tax_id=False,
    ),
    VendorEntry(
        key="secureguard",
        name="SecureGuard Werkschutz GmbH",
        country="DE",
        currency="EUR",
        category="security",
    ),
    VendorEntry(
        key="messe",
        name="Messe & Event Service GmbH",
        country="DE",
        currency="EUR",
        category="events",
        channel="csv",
        days_late=3,
    ),
)
