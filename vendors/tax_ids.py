"""Tax ids checked with python-stdnum (#19 item 2): a warning, never a refusal.

A vendor's tax id is whatever its invoices print; Recon cannot know every scheme of every country,
and a vendor must not be refused for a number its own tax office issued. So: a number whose first
two letters name a country python-stdnum has a VAT scheme for (the EU's, with Greece's `EL`;
the UK's, Switzerland's `CHE`, Norway's, ...) is checked against that scheme, and one that fails
is reported as a warning the clerk sees (on creation through the API, and on the vendor's page).
Anything else — no country prefix, a country without a known scheme — is accepted as it is.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from stdnum import get_cc_module
from stdnum.eu import vat as eu_vat
from stdnum.exceptions import ValidationError

from vendors.names import normalize_tax_id

TAX_ID_INVALID = "{tax_id} is not a valid {scheme}: {problem} Check it against the vendor's invoice."
TAX_ID_INVALID_CODE = "tax_id_not_valid"


@dataclass(frozen=True)
class TaxIdWarning:
    field: str
    code: str
    message: str


@functools.lru_cache(maxsize=64)
def _scheme_of(country: str) -> tuple[Any, str]:
    """The module that checks a VAT number of this country, and the scheme's name."""
    try:
        national = get_cc_module("gr" if country == "el" else country, "vat")
    except (ImportError, ValueError):
        national = None
    if national is None:
        return None, ""
    name = (national.__doc__ or "").strip().splitlines()[0].rstrip(".") if national.__doc__ else ""
    checker = eu_vat if country in eu_vat.MEMBER_STATES or country == "el" else national
    return checker, name or f"{country.upper()} VAT number"


def tax_id_warnings(tax_id: str) -> list[TaxIdWarning]:
    """The warnings of a tax id: none if valid in its scheme, or its scheme is not known."""
    number = normalize_tax_id(tax_id)
    if len(number) < 3 or not number[:2].isalpha():
        return []
    checker, scheme = _scheme_of(number[:2].lower())
    if checker is None:
        return []
    try:
        checker.validate(number)
    except ValidationError as exc:
        message = TAX_ID_INVALID.format(tax_id=number, scheme=scheme, problem=str(exc))
        return [TaxIdWarning(field="tax_id", code=TAX_ID_INVALID_CODE, message=message)]
    return []
