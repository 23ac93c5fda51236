"""Template tags and filters of the web app: money in minor units, ages, percentages, SVG bar
charts, and the page and sort links of every list (core.http.listing)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from django import template
from django.http import HttpRequest
from django.utils import timezone

from core.http.listing import query_with
from core.money import from_minor
from matching.engine.vocabulary import (
    DISCREPANCY_TYPE_LABELS,
    PO_CLOSED,
    VENDOR_MISMATCH,
    percent_text,
    price_text,
)
from recon_site.labels import family_label

register = template.Library()


@register.filter
def money(minor: int | None, currency: str) -> str:
    """`123456, "EUR"` → `"1,234.56"`: exact, from the integer, with the currency's places."""
    if minor is None:
        return "—"
    return f"{from_minor(int(minor), currency):,}"


@register.filter
def quantity(value: Decimal | None) -> str:
    """A quantity without the trailing zeros of NUMERIC(18,4): `12.5000` → `12.5`."""
    if value is None:
        return "—"
    normalized = value.normalize()
    # normalize() writes 1000 as 1E+3.
    return f"{normalized:f}" if normalized == normalized.to_integral_value() else str(normalized)


@register.filter
def age(moment: dt.datetime | None) -> str:
    """How long ago, coarsely: `3 d 4 h`, `5 h 12 min`, `4 min`."""
    if moment is None:
        return "—"
    seconds = max(0, int((timezone.now() - moment).total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min"


@register.filter
def percent(value: Decimal | str | None) -> str:
    """A score of 0..1 as a percentage, to one decimal where it has one: `1.0000` → `100 %`,
    `0.8535` → `85.4 %` (the engine's own way of writing percentages in its messages)."""
    if value is None or value == "":
        return "—"
    return f"{percent_text(Decimal(str(value)) * 100)} %"


@register.filter
def unit_price(value: Decimal | None, currency: str) -> str:
    """A unit price as the invoice prints it: the currency's decimals at least (`4.20` EUR, `1250`
    JPY), more when the price has them (`10.345`); a sign kept (a difference, `-0.60`)."""
    if value is None:
        return "—"
    return price_text(value, currency)


_CODE = re.compile(r"\b[a-z]+(?:_[a-z]+)+\b")
_SCORE = re.compile(r"\bconfidence ([01]\.\d+)\b")


@register.filter
def engine_reason(reason: str | None) -> str:
    """A reason the matching engine stored (`Review: price_mismatch.`, `… (confidence 0.9612).`)
    as the clerk reads it: discrepancy types by their labels, the score as a percentage. The
    stored text stays as written (it is history, and the API's `decision_reason`)."""
    if not reason:
        return ""
    labelled = _CODE.sub(lambda match: DISCREPANCY_TYPE_LABELS.get(match.group(0), match.group(0)), reason)
    return _SCORE.sub(lambda match: f"confidence {percent(match.group(1))}", labelled)


# Discrepancies whose expected and actual values are record ids: the message names them in words.
_FIGURES_ARE_IDS = frozenset({VENDOR_MISMATCH})


@register.filter
def discrepancy_figure(value: str | None, discrepancy_type: str) -> str:
    """A discrepancy's expected or actual value as the clerk reads it: figures as the engine wrote
    them (quantities, prices, amounts), a PO's status by its label, "" for ids."""
    if value is None or discrepancy_type in _FIGURES_ARE_IDS:
        return ""
    if discrepancy_type == PO_CLOSED:
        return family_label(family="purchase_order_status", code=value)
    return value


@register.filter
def label(code: str | None, family: str) -> str:
    """A code as a person reads it: `{{ d.type|label:"discrepancy_type" }}` → `Price differs from
    PO`. The families and their labels: recon_site.labels."""
    return family_label(family=family, code=code)


@dataclass(frozen=True)
class Bar:
    label: str
    value: int | Decimal
    display: str
    y: int
    width: Decimal
    css: str


# Geometry of the charts (SVG user units); the SVG scales to its container.
_LABEL_WIDTH = 170
_BAR_AREA = 300
_ROW = 28


@register.inclusion_tag("web/_bar_chart.html")
def bar_chart(
    rows: Sequence[tuple[str, int]], title: str, css_prefix: str = "bar", family: str = ""
) -> dict[str, object]:
    """A horizontal bar chart as inline SVG: no chart library, nothing for the CSP to allow. The
    rows are (code, count); the bars read the codes' labels in `family` (recon_site.labels)."""
    largest = max((value for _, value in rows), default=0) or 1
    bars = [
        Bar(
            label=family_label(family=family, code=name) if family else str(name),
            value=value,
            display=str(value),
            y=index * _ROW,
            width=(Decimal(value) / Decimal(largest) * _BAR_AREA).quantize(Decimal("0.1")),
            css=f"{css_prefix}-{name}",
        )
        for index, (name, value) in enumerate(rows)
    ]
    return {
        "bars": bars,
        "title": title,
        "height": max(len(bars), 1) * _ROW,
        "label_width": _LABEL_WIDTH,
        "bar_x": _LABEL_WIDTH + 6,
        "value_x": _LABEL_WIDTH + 12,
        "total_width": _LABEL_WIDTH + _BAR_AREA + 60,
    }


@register.inclusion_tag("web/_score_bar.html")
def score_bar(value: Decimal | str | float | None, name: str) -> dict[str, object]:
    """One confidence component as a bar of 0..1."""
    score = Decimal(str(value)) if value is not None else Decimal(0)
    return {
        "name": name,
        "score": score,
        "width": (score * 200).quantize(Decimal("0.1")),
        "css": "good" if score >= Decimal("0.95") else "fair" if score >= Decimal("0.7") else "poor",
    }


@register.simple_tag(takes_context=True)
def list_url(context: template.Context, **changes: object) -> str:
    """This list's URL with `changes` to its query, the filters kept: `{% list_url page=2 %}`,
    `{% list_url sort="-amount" %}` (which also goes back to page 1)."""
    request: HttpRequest = context["request"]
    return request.path + query_with(query=request.GET, changes=changes)


@register.inclusion_tag("web/_sort_link.html", takes_context=True)
def sort_link(context: template.Context, key: str, title: str, target: str = "") -> dict[str, object]:
    """A column heading that sorts the list by `key`, ascending first, then the other way.
    The current sort is the view's `sort` (validated, with its default), not the raw query.
    With `target`, htmx swaps only that element (the URL is pushed, so back and reload work)."""
    current = context.get("sort", "")
    descending = f"-{key}"
    direction = "asc" if current == key else "desc" if current == descending else ""
    return {
        "url": list_url(context, sort=descending if current == key else key),
        "title": title,
        "direction": direction,
        "target": target,
    }
