"""What the web app's forms share: a date input browsers show as a calendar, the check of a typed
currency code, an id posted by a select, and a service's refusal put back on the form beside the
field it names."""

from __future__ import annotations

import uuid

from django import forms

from core.exceptions import DomainError
from core.money import MoneyError, normalize_currency

NOT_ISO_CURRENCY = "Use a three-letter ISO 4217 code, such as EUR, USD or JPY."


def date_input() -> forms.DateInput:
    """A calendar in the browser; the value in ISO form (what `<input type="date">` reads and sends)."""
    return forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def currency_cleaned(text: str) -> str:
    """The upper-case ISO code typed, or the form's error naming what to type."""
    try:
        return normalize_currency(text)
    except MoneyError as exc:
        raise forms.ValidationError(NOT_ISO_CURRENCY) from exc


def posted_uuid(raw: str) -> uuid.UUID | None:
    """The id a form posted (a select's value, a hidden field), or None when it is missing or not an id."""
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None


def errors_add(*, form: forms.Form, error: DomainError) -> None:
    """A service's refusal on the form: each message beside the field it names, the rest on top."""
    details = error.details if isinstance(error.details, dict) else {}
    placed = False
    for name, messages in details.items():
        for message in messages if isinstance(messages, list) else [messages]:
            form.add_error(name if name in form.fields else None, str(message))
            placed = True
    if not placed:
        form.add_error(None, str(error))
