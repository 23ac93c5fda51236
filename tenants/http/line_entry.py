"""Lines a person types into a page: invoices, credit notes and purchase orders entered by hand.

One form per line (description, SKU, quantity, unit price, and the PO line it was filled from),
gathered in a Django formset under the prefix `lines`, and one endpoint that adds them up as the
person types (`line_totals`, posted by htmx from the line editor, templates/web/_line_editor.html).
The sums are made here, in exact decimals and the currency's minor units, by the same rule the
one door uses for a line without a stated amount (core.quantities.line_amount_minor): what the page
shows while typing is what will be stored.

A row left entirely blank is no line (the editor always offers one empty row); a row with
anything in it needs a quantity and a unit price. Quantities and unit prices are read as the
API reads them (core.money.parse_decimal: ASCII digits, no floats) and checked by the kernel's
shape rules, so the errors a person sees beside a cell are the ones an API client gets by field.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_POST

from core.money import MAX_MINOR_UNITS, MoneyError, normalize_currency, parse_decimal, to_minor
from core.quantities import line_amount_minor, quantity_error, unit_price_error
from tenants.http.web import tenant_view

LINES_PREFIX = "lines"
# A page of lines, not a bulk door: a document with more lines comes as a file.
MAX_LINES = 500

LINE_NEEDS_QUANTITY_AND_PRICE = "A line needs a quantity and a unit price."
LINE_NEEDS_DESCRIPTION = "A line needs a description."
DECIMAL_COMMA = "Write decimals with a point (12.5); a comma only groups thousands (1,234.50)."
_GROUPED = re.compile(r"-?\d{1,3}(,\d{3})+(\.\d+)?")


def _decimal_or_error(text: str, check: Any) -> Decimal | None:
    text = text.strip()
    if not text:
        return None
    if "," in text:
        # "1,234.50" is a thousands separator; "12,5" is a decimal comma, which would silently
        # become 125 if commas were dropped: refused with the way to write it.
        if not _GROUPED.fullmatch(text):
            raise forms.ValidationError(DECIMAL_COMMA)
        text = text.replace(",", "")
    try:
        number = parse_decimal(text)
    except MoneyError as exc:
        raise forms.ValidationError(str(exc)) from None
    if problem := check(number):
        raise forms.ValidationError(problem)
    return number


class LineEntryForm(forms.Form):
    """One line as a person types it. Blank rows are allowed and skipped (`is_blank`)."""

    description = forms.CharField(max_length=500, required=False)
    sku = forms.CharField(label="SKU", max_length=64, required=False)
    quantity = forms.CharField(max_length=40, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"}))
    unit_price = forms.CharField(
        label="Unit price", max_length=40, required=False, widget=forms.TextInput(attrs={"inputmode": "decimal"})
    )
    # The PO line the row was filled from ("Fill lines from the PO"): matching reads it as the
    # line's key, so a row that came from the PO is matched as keyed.
    po_line_number = forms.IntegerField(required=False, min_value=1, widget=forms.HiddenInput)

    def clean_quantity(self) -> Decimal | None:
        return _decimal_or_error(self.cleaned_data.get("quantity", ""), quantity_error)

    def clean_unit_price(self) -> Decimal | None:
        return _decimal_or_error(self.cleaned_data.get("unit_price", ""), unit_price_error)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.is_blank or data.get("DELETE"):
            return data
        for name in ("quantity", "unit_price"):
            if data.get(name) is None and name not in self.errors:
                self.add_error(name, LINE_NEEDS_QUANTITY_AND_PRICE)
        if not str(data.get("description", "")).strip() and not str(data.get("sku", "")).strip():
            self.add_error("description", LINE_NEEDS_DESCRIPTION)
        return data

    @property
    def is_blank(self) -> bool:
        """Nothing typed in the row (the hidden PO line number alone does not make a line)."""
        raw = (self.data.get(self.add_prefix(name), "") for name in ("description", "sku", "quantity", "unit_price"))
        return not any(str(value).strip() for value in raw)


def _formset_class(form: type[LineEntryForm]) -> Any:
    return forms.formset_factory(
        form, extra=0, can_delete=True, max_num=MAX_LINES, validate_max=True, absolute_max=MAX_LINES
    )


LineEntryFormSet = _formset_class(LineEntryForm)


def line_formset(
    data: Any = None,
    *,
    initial: list[dict[str, Any]] | None = None,
    extra: int = 1,
    form: type[LineEntryForm] = LineEntryForm,
) -> Any:
    """The lines of a page: from a POST (`data`), or from `initial` rows plus `extra` empty ones.
    `form`: a document's own kind of line (a PO line adds its cost centre), a LineEntryForm still,
    so the editor, the sums and `entered_lines` read it as any line; its extra cells are the page's
    to read from the row's `cleaned_data`."""
    formset_class = LineEntryFormSet if form is LineEntryForm else _formset_class(form)
    if data is not None:
        return formset_class(data, prefix=LINES_PREFIX)
    rows = list(initial or []) + [{} for _ in range(extra)]
    return formset_class(initial=rows, prefix=LINES_PREFIX)


def formset_with_row_added(data: Any, *, form: type[LineEntryForm] = LineEntryForm) -> Any:
    """The posted lines with one more empty row ("Add a line"): the management form's count + 1."""
    changed = data.copy()
    key = f"{LINES_PREFIX}-TOTAL_FORMS"
    try:
        count = int(changed.get(key, "0"))
    except ValueError:
        count = 0
    changed[key] = str(min(count + 1, MAX_LINES))
    return line_formset(changed, form=form)


@dataclass(frozen=True)
class EnteredLine:
    """A typed line that is a line (not blank, not removed), with its amount in minor units."""

    index: int  # the row on the page, for putting an error back beside it
    description: str
    sku: str
    quantity: Decimal
    unit_price: Decimal
    po_line_number: int | None
    amount: int | None  # None without a currency to round to


def entered_lines(formset: Any, currency: str | None) -> list[EnteredLine]:
    """The valid, non-blank, kept rows of a validated formset, in page order."""
    lines = []
    for index, form in enumerate(formset.forms):
        data = getattr(form, "cleaned_data", None)
        if not data or form.is_blank or data.get("DELETE") or form.errors:
            continue
        quantity, unit_price = data["quantity"], data["unit_price"]
        lines.append(
            EnteredLine(
                index=index,
                description=data["description"].strip(),
                sku=data["sku"].strip(),
                quantity=quantity,
                unit_price=unit_price,
                po_line_number=data.get("po_line_number"),
                amount=line_amount_minor(quantity, unit_price, currency) if currency else None,
            )
        )
    return lines


@dataclass(frozen=True)
class LineTotals:
    """What the line editor shows under the lines: each row's amount and the sums, in minor units
    of `currency` (the page formats them with the `money` filter)."""

    currency: str | None
    row_amounts: list[int | None]  # by row on the page; None for a blank, removed or invalid row
    subtotal: int | None
    extras: list[tuple[str, int]]  # (label, amount): tax and shipping as typed
    total: int | None
    stated_total: int | None  # what the person typed as the document's total, when they did
    problems: list[str]

    @property
    def disagrees(self) -> bool:
        return self.stated_total is not None and self.total is not None and self.stated_total != self.total


EXTRA_AMOUNTS = (("tax_amount", "Tax"), ("shipping_amount", "Shipping"))
TOTAL_TOO_LARGE = "The lines add up to more than an amount can hold."
CHOOSE_CURRENCY = "Choose a currency to see the amounts."


def line_totals_of(data: Any) -> LineTotals:
    """Add up posted lines (and tax, shipping, and a stated total when the form has them)."""
    problems: list[str] = []
    formset = LineEntryFormSet(data, prefix=LINES_PREFIX)
    formset.is_valid()  # errors are shown on save; here the valid rows are added up
    try:
        currency = normalize_currency(str(data.get("currency", "")))
    except MoneyError:
        return LineTotals(None, [None] * len(formset.forms), None, [], None, None, [CHOOSE_CURRENCY])
    lines = entered_lines(formset, currency)
    by_row: dict[int, int | None] = {line.index: line.amount for line in lines}
    row_amounts = [by_row.get(index) for index in range(len(formset.forms))]
    subtotal = sum(line.amount or 0 for line in lines)
    extras = []
    for name, label in EXTRA_AMOUNTS:
        if minor := _amount_typed(data, name, label, currency, problems):
            extras.append((label, minor))
    stated = _amount_typed(data, "total_amount", "Total", currency, problems)
    total = subtotal + sum(minor for _, minor in extras)
    if abs(total) > MAX_MINOR_UNITS:
        return LineTotals(currency, row_amounts, None, extras, None, stated, [*problems, TOTAL_TOO_LARGE])
    return LineTotals(currency, row_amounts, subtotal, extras, total, stated, problems)


def _amount_typed(data: Any, name: str, label: str, currency: str, problems: list[str]) -> int | None:
    text = str(data.get(name, "")).strip()
    if not text:
        return None
    try:
        return to_minor(parse_decimal(text), currency)
    except MoneyError as exc:
        problems.append(f"{label}: {exc}")
        return None


@tenant_view
@require_POST
def line_totals(request: HttpRequest) -> HttpResponse:
    """The totals block of the line editor, for what has been typed so far (htmx, no writes)."""
    return render(request, "web/_line_totals_body.html", {"totals": line_totals_of(request.POST), "oob": True})


@dataclass(frozen=True)
class LineEditor:
    """A line editor to render (templates/web/_line_editor.html): the rows and their sums."""

    formset: Any
    totals: LineTotals

    @property
    def rows(self) -> list[tuple[Any, int | None]]:
        # Every row of the formset: sums read from other data (a page being opened) may know fewer.
        amounts = self.totals.row_amounts
        return [
            (form, amounts[index] if index < len(amounts) else None) for index, form in enumerate(self.formset.forms)
        ]


def line_editor(formset: Any, data: Any) -> LineEditor:
    """The editor for `formset`, its sums read from `data` (the posted form, or the initial
    values of a page being opened: a dict with `currency` and the formset's rows)."""
    return LineEditor(formset=formset, totals=line_totals_of(data))


def typed_decimal(text: str, check: Callable[[Decimal], str | None]) -> Decimal | None:
    """A number typed in a cell outside the line editor (a receipt's "received now"), read as the
    editor reads its cells: blank is None, decimal commas refused, `check` the kernel's rule."""
    return _decimal_or_error(text, check)


# A document's error key for one of its lines, as the one doors write them: `lines[2].quantity`.
_LINE_ERROR_KEY = re.compile(rf"{LINES_PREFIX}\[(\d+)\](?:\.(\w+))?")
LINE_ERROR = "Line {number}: {message}"


def attach_errors(
    details: Mapping[str, Any],
    form: forms.Form,
    formset: Any,
    line_rows: Mapping[int, int],
    *,
    field_names: Mapping[str, str] | None = None,
) -> None:
    """Put a one door's refusal (a `DocumentInvalid`'s details: `po_number`, `lines`,
    `lines[0].quantity` → messages) back on the page that built the document.

    `form` is the header (bound and validated); `formset` the lines (bound and validated);
    `line_rows` maps the index of a line in the document to its row on the page (blank and
    removed rows are not in the document, so the two differ). `field_names` renames a key to
    the form's field (`vendor_id` → `vendor`). A message whose field is not on the page, or is
    hidden, is still shown: on top of the form, or above the lines as "Line 3: …".
    """
    renamed = field_names or {}
    for key, value in details.items():
        messages = [str(message) for message in (value if isinstance(value, (list, tuple)) else [value])]
        if key == LINES_PREFIX:
            formset.non_form_errors().extend(messages)
            continue
        line_key = _LINE_ERROR_KEY.fullmatch(key)
        if line_key is None:
            name = renamed.get(key, key)
            for message in messages:
                form.add_error(name if name in form.fields else None, message)
            continue
        index, name = int(line_key[1]), line_key[2]
        row = line_rows.get(index)
        line_form = formset.forms[row] if row is not None and row < len(formset.forms) else None
        shown = (
            line_form is not None
            and name in line_form.fields
            and not line_form.fields[name].widget.is_hidden
            and name != "DELETE"
        )
        for message in messages:
            if shown and line_form is not None:
                line_form.add_error(name, message)
            else:
                number = row + 1 if row is not None else index + 1
                formset.non_form_errors().append(LINE_ERROR.format(number=number, message=message))
