"""What the demo company buys: the items on its purchase orders, the services billed without one.

Static tables only, read by `vendors_and_pos` and `invoices`. Prices are in euros and converted
to a vendor's own currency at the fixed demo rates of `DEMO_RATES` (a price list, not an FX
feed: the demo never adds two currencies together).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

# Euros → the vendor's currency, for list prices.
DEMO_RATES: dict[str, Decimal] = {
    "EUR": Decimal(1),
    "USD": Decimal("1.08"),
    "GBP": Decimal("0.86"),
    "CHF": Decimal("0.95"),
    "JPY": Decimal(160),
    "BHD": Decimal("0.41"),
}


@dataclass(frozen=True)
class CatalogItem:
    sku: str
    description: str
    unit_price: str  # euros; sub-cent digits where the trade prices that way
    quantities: tuple[int, ...]  # what one order usually asks for


ITEMS: dict[str, tuple[CatalogItem, ...]] = {
    "fasteners": (
        CatalogItem(
            sku="HB-M8", description="M8 hex bolts, zinc plated", unit_price="0.125", quantities=(500, 1000, 2000)
        ),
        CatalogItem(
            sku="HN-M10", description="M10 hex nuts, grade 8", unit_price="0.064", quantities=(1000, 2000, 5000)
        ),
        CatalogItem(sku="WS-M4", description="Washers M4, stainless", unit_price="0.012", quantities=(2000, 5000)),
        CatalogItem(sku="SS-4X20", description="Stainless screws 4x20", unit_price="0.048", quantities=(1000, 5000)),
        CatalogItem(sku="TR-M12", description="Threaded rod M12, 1 m", unit_price="3.85", quantities=(20, 50, 100)),
        CatalogItem(sku="BR-48", description="Blind rivets 4.8 x 12", unit_price="0.031", quantities=(2000, 5000)),
    ),
    "bearings": (
        CatalogItem(
            sku="BR-6204", description="Ball bearing 6204-2RS", unit_price="4.20", quantities=(50, 100, 250, 400)
        ),
        CatalogItem(sku="BR-6205", description="Ball bearing 6205-2RS", unit_price="5.10", quantities=(50, 100, 200)),
        CatalogItem(sku="VB-SPA1250", description="V-belt SPA 1250", unit_price="12.40", quantities=(10, 20, 40)),
        CatalogItem(sku="RC-10B", description="Roller chain 10B-1, 5 m", unit_price="38.90", quantities=(4, 10, 20)),
        CatalogItem(sku="SC-24", description="Shaft coupling 24 mm", unit_price="24.50", quantities=(5, 10, 20)),
    ),
    "hydraulics": (
        CatalogItem(sku="HH-1M", description="Hydraulic hose 1 m", unit_price="18.40", quantities=(20, 50, 100)),
        CatalogItem(sku="HF-12L", description="Hydraulic fitting 12L", unit_price="3.75", quantities=(50, 100, 200)),
        CatalogItem(sku="HO-46", description="Hydraulic oil HLP 46, 20 l", unit_price="72.00", quantities=(4, 8, 12)),
        CatalogItem(sku="SK-CYL50", description="Seal kit cylinder 50 mm", unit_price="41.50", quantities=(5, 10, 20)),
    ),
    "electrical": (
        CatalogItem(sku="CT-3P18", description="Contactor 3-pole 18 A", unit_price="39.90", quantities=(5, 10, 20)),
        CatalogItem(sku="CB-C16", description="Circuit breaker C16", unit_price="7.85", quantities=(20, 50, 100)),
        CatalogItem(sku="CT-100", description="Cable ties, pack of 100", unit_price="4.20", quantities=(20, 50)),
        CatalogItem(sku="LED-P60", description="LED panel 60 x 60", unit_price="48.00", quantities=(10, 20, 40)),
        CatalogItem(sku="TB-4", description="Terminal block 4 mm²", unit_price="0.86", quantities=(100, 250, 500)),
    ),
    "cable": (
        CatalogItem(
            sku="CU-16", description="Copper cable 16 mm², per metre", unit_price="5.35", quantities=(200, 500, 1000)
        ),
        CatalogItem(
            sku="CU-25", description="Copper cable 25 mm², per metre", unit_price="8.10", quantities=(100, 250, 500)
        ),
        CatalogItem(sku="CB-BAR", description="Copper busbar 30 x 5, per kg", unit_price="11.80", quantities=(50, 100)),
    ),
    "safety": (
        CatalogItem(sku="SG-L", description="Safety gloves, size L", unit_price="3.95", quantities=(100, 200, 400)),
        CatalogItem(sku="SG-GL", description="Safety glasses, clear", unit_price="6.80", quantities=(20, 50, 100)),
        CatalogItem(sku="HP-EAR", description="Ear plugs, box of 200", unit_price="21.50", quantities=(5, 10)),
        CatalogItem(sku="HV-VEST", description="Hi-vis vest, yellow", unit_price="4.90", quantities=(20, 50)),
        CatalogItem(sku="FA-KIT", description="First-aid kit DIN 13157", unit_price="34.00", quantities=(2, 5, 10)),
    ),
    "office": (
        CatalogItem(sku="PA-A4", description="Copy paper A4, box", unit_price="4.50", quantities=(10, 20, 50, 100)),
        CatalogItem(sku="TN-85A", description="Toner cartridge 85A", unit_price="62.00", quantities=(2, 5, 10)),
        CatalogItem(sku="RB-80", description="Ring binder 80 mm", unit_price="1.35", quantities=(20, 50)),
        CatalogItem(sku="BP-50", description="Ballpoint pens, pack of 50", unit_price="9.90", quantities=(2, 5)),
    ),
    "packaging": (
        CatalogItem(
            sku="BX-604040", description="Cardboard box 600 x 400 x 400", unit_price="1.18", quantities=(200, 500, 1000)
        ),
        CatalogItem(sku="SF-500", description="Stretch film 500 mm, roll", unit_price="9.40", quantities=(20, 40, 80)),
        CatalogItem(sku="EP-1200", description="Euro pallet 1200 x 800", unit_price="8.50", quantities=(50, 100, 200)),
        CatalogItem(sku="PT-50", description="Packing tape 50 mm, roll", unit_price="1.65", quantities=(50, 100, 200)),
    ),
    "lubricants": (
        CatalogItem(sku="GR-1KG", description="Lithium grease 1 kg", unit_price="12.75", quantities=(10, 20, 30)),
        CatalogItem(sku="CF-20L", description="Cutting fluid, 20 l", unit_price="89.00", quantities=(2, 4, 6)),
        CatalogItem(sku="DG-5L", description="Degreaser, 5 l", unit_price="23.40", quantities=(4, 10)),
        CatalogItem(sku="IPA-1L", description="Isopropanol 99.9 %, 1 l", unit_price="6.20", quantities=(10, 24)),
    ),
    "tools": (
        CatalogItem(
            sku="CI-CNMG", description="Carbide insert CNMG 120408", unit_price="7.45", quantities=(20, 50, 100)
        ),
        CatalogItem(sku="DB-8HSS", description="Drill bit 8 mm HSS-Co", unit_price="3.10", quantities=(20, 50)),
        CatalogItem(sku="EM-10", description="End mill 10 mm, 4 flutes", unit_price="28.60", quantities=(5, 10, 20)),
        CatalogItem(sku="GD-125", description="Grinding disc 125 mm", unit_price="1.95", quantities=(50, 100)),
    ),
    "steel": (
        CatalogItem(
            sku="ST-2MM", description="Steel sheet 2 mm, 1000 x 2000", unit_price="58.00", quantities=(20, 40, 80)
        ),
        CatalogItem(
            sku="ST-4MM", description="Steel sheet 4 mm, 1250 x 2500", unit_price="142.00", quantities=(10, 20)
        ),
        CatalogItem(sku="SB-40", description="Steel bar round 40 mm, 6 m", unit_price="96.50", quantities=(5, 10)),
    ),
    "aluminium": (
        CatalogItem(
            sku="AP-4040", description="Aluminium profile 40 x 40, 6 m", unit_price="42.30", quantities=(10, 20, 40)
        ),
        CatalogItem(
            sku="AP-8040", description="Aluminium profile 80 x 40, 6 m", unit_price="71.90", quantities=(5, 10, 20)
        ),
        CatalogItem(sku="AC-BR", description="Angle bracket 40 series", unit_price="1.85", quantities=(100, 200)),
    ),
    "automation": (
        CatalogItem(sku="SV-400W", description="Servo motor 400 W", unit_price="303.125", quantities=(2, 4, 12)),
        CatalogItem(sku="EN-17B", description="Absolute encoder 17-bit", unit_price="95.00", quantities=(2, 4, 12)),
        CatalogItem(sku="PLC-IO16", description="PLC I/O module 16 DI", unit_price="537.50", quantities=(1, 2, 4)),
        CatalogItem(
            sku="PS-IND", description="Inductive proximity sensor M12", unit_price="61.25", quantities=(10, 20)
        ),
    ),
    "it": (
        CatalogItem(sku="NB-14", description="Notebook 14 inch, i7, 32 GB", unit_price="1149.00", quantities=(1, 2, 5)),
        CatalogItem(sku="MO-27", description="Monitor 27 inch QHD", unit_price="289.00", quantities=(2, 4, 10)),
        CatalogItem(sku="DS-USB4", description="Docking station USB4", unit_price="189.00", quantities=(2, 5)),
        CatalogItem(sku="KB-DE", description="Keyboard, German layout", unit_price="39.00", quantities=(5, 10)),
    ),
    "pneumatics": (
        CatalogItem(sku="PC-1210", description="Pneumatic cylinder 32 x 100", unit_price="54.80", quantities=(4, 10)),
        CatalogItem(sku="PV-52", description="Solenoid valve 5/2, 24 V", unit_price="68.40", quantities=(4, 10)),
        CatalogItem(sku="PH-8", description="PU tubing 8 mm, 50 m roll", unit_price="31.20", quantities=(2, 5, 10)),
        CatalogItem(sku="QC-8", description="Push-in fitting 8 mm", unit_price="1.42", quantities=(50, 100, 200)),
    ),
}


@dataclass(frozen=True)
class ServiceLine:
    description: str  # `{month}` and `{route}` are filled in per invoice
    low: int  # euros, the range one invoice's line falls in
    high: int


@dataclass(frozen=True)
class Service:
    # monthly: one invoice a month (fixed amount when low == high); weekly; or `per_week`
    # invoices a week on random days (shipments, visits).
    cadence: str
    lines: tuple[ServiceLine, ...]
    per_week: int = 0
    day_of_month: int = 1


SERVICES: dict[str, Service] = {
    "freight": Service(
        cadence="shipments",
        lines=(
            ServiceLine(description="Freight {route}", low=180, high=950),
            ServiceLine(description="Fuel surcharge", low=15, high=60),
        ),
        per_week=18,
    ),
    "utilities": Service(
        cadence="monthly",
        lines=(
            ServiceLine(description="Electricity {month}", low=8200, high=11800),
            ServiceLine(description="Gas {month}", low=900, high=2400),
        ),
        day_of_month=5,
    ),
    "telecom": Service(
        cadence="monthly",
        lines=(ServiceLine(description="Mobile and fixed lines {month}", low=640, high=720),),
        day_of_month=3,
    ),
    "software": Service(
        cadence="monthly",
        lines=(ServiceLine(description="CloudDesk Business, 85 seats, {month}", low=2295, high=2295),),
        day_of_month=1,
    ),
    "cleaning": Service(
        cadence="monthly",
        lines=(ServiceLine(description="Office and plant cleaning {month}", low=3850, high=3850),),
        day_of_month=28,
    ),
    "rent": Service(
        cadence="monthly",
        lines=(ServiceLine(description="Rent hall 3 and offices {month}", low=18500, high=18500),),
        day_of_month=1,
    ),
    "maintenance": Service(
        cadence="shipments",
        lines=(
            ServiceLine(description="Maintenance visit, press line {route}", low=420, high=1900),
            ServiceLine(description="Spare parts", low=60, high=800),
        ),
        per_week=6,
    ),
    "staffing": Service(
        cadence="weekly", lines=(ServiceLine(description="Temporary staff, production, {month}", low=5200, high=7400),)
    ),
    "legal": Service(
        cadence="monthly",
        lines=(ServiceLine(description="Legal advice, contracts review, {month}", low=1200, high=4800),),
        day_of_month=20,
    ),
    "security": Service(
        cadence="monthly",
        lines=(ServiceLine(description="Site security {month}", low=6100, high=6100),),
        day_of_month=2,
    ),
    "events": Service(
        cadence="shipments",
        lines=(ServiceLine(description="Trade fair booth services {route}", low=800, high=5200),),
        per_week=2,
    ),
}

# Where freight goes and which machine a maintenance visit was for (the `{route}` of a line).
ROUTES: tuple[str, ...] = (
    "Hamburg - Stuttgart, 2 pallets",
    "Stuttgart - Munich, 1 pallet",
    "Rotterdam - Stuttgart, 6 pallets",
    "Stuttgart - Milan, 3 pallets",
    "Bremen - Stuttgart, part load",
    "Stuttgart - Vienna, 4 pallets",
    "Gdansk - Stuttgart, full truck",
    "Stuttgart - Lyon, 2 pallets",
)


@dataclass(frozen=True)
class OneOffBill:
    """A business that bills the company once and is in nobody's vendor list."""

    name: str
    description: str
    low: int  # euros
    high: int


ONE_OFF_BILLS: tuple[OneOffBill, ...] = (
    OneOffBill(name="Hotel Adler Stuttgart", description="Accommodation, 2 nights, customer visit", low=240, high=560),
    OneOffBill(name="Zenith Logistics", description="Freight Hamburg - Munich", low=650, high=1100),
    OneOffBill(name="Autohaus Schmid GmbH", description="Forklift tyre replacement", low=380, high=920),
    OneOffBill(name="Kranservice Fischer", description="Mobile crane, 4 hours", low=1200, high=2100),
    OneOffBill(name="Copyshop am Markt", description="Printing of manuals", low=90, high=340),
    OneOffBill(name="Restaurant Zur Post", description="Business dinner, 6 persons", low=280, high=610),
)
