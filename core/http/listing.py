"""How every list of the web app pages and sorts: the page and sort a query asks for, and the
links that change them.

One helper for all lists, because each list that built its own links got them wrong the same
way (`"?{% querystring %}"` doubled the `?`, so "Next →" led back to page 1). A link keeps every
other parameter of the current query (the filters), replaces the ones it changes, and drops
`page` whenever anything else changes: page 3 of another sort or filter is a page of another
list. Keys left by the old doubled links (`?page`, `??sort`) are read without their `?`s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet
from django.http import QueryDict

PAGE = "page"
SORT = "sort"


def query_pairs(*, query: QueryDict) -> list[tuple[str, str]]:
    """The query's parameters in order, repeated keys kept, keys cleaned of leading `?`s."""
    pairs: list[tuple[str, str]] = []
    for key, values in query.lists():
        clean = key.lstrip("?")
        if clean:
            pairs.extend((clean, value) for value in values)
    return pairs


def query_with(*, query: QueryDict, changes: Mapping[str, object]) -> str:
    """`?` and the query with `changes` applied: a value replaces every value of its key, `None`
    removes the key, a list gives the key several values. Drops `page` unless the change is to
    `page` alone. Unicode and reserved characters are percent-encoded (UTF-8)."""
    dropped = set(changes)
    if set(changes) - {PAGE}:
        dropped.add(PAGE)
    pairs = [(key, value) for key, value in query_pairs(query=query) if key not in dropped]
    for key, value in changes.items():
        if value is None:
            continue
        values = value if isinstance(value, (list, tuple)) else [value]
        pairs.extend((key, str(item)) for item in values)
    return "?" + urlencode(pairs)


@dataclass(frozen=True)
class ListPage:
    """One page of a sorted list, and the sort it was read in (a key of its list's sorts)."""

    page: Page
    sort: str


def list_sort(*, query: QueryDict, sorts: Mapping[str, tuple[str, ...]], default_sort: str) -> str:
    """The sort key the query asks for, if it is one of `sorts`; else `default_sort`."""
    asked = dict(query_pairs(query=query)).get(SORT, "")
    return asked if asked in sorts else default_sort


def list_ordered(*, queryset: QuerySet, sorts: Mapping[str, tuple[str, ...]], sort: str) -> QuerySet:
    """The queryset in the ORM ordering of `sort`, the primary key last, so a page boundary never
    shows a row twice or skips one (and an export of the list has the page's very order)."""
    return queryset.order_by(*sorts[sort], "pk")


def list_page(
    *,
    query: QueryDict,
    queryset: QuerySet,
    per_page: int,
    sorts: Mapping[str, tuple[str, ...]] | None = None,
    default_sort: str = "",
) -> ListPage:
    """The page and sort the query asks for. `sorts` maps each sort key (`amount`, `-amount`) to
    its ORM ordering; an unknown key falls back to `default_sort` (`list_sort`), an unknown page
    to the nearest one (Django's `get_page`)."""
    pairs = dict(query_pairs(query=query))
    sort = default_sort
    if sorts:
        sort = list_sort(query=query, sorts=sorts, default_sort=default_sort)
        queryset = list_ordered(queryset=queryset, sorts=sorts, sort=sort)
    return ListPage(page=Paginator(queryset, per_page).get_page(pairs.get(PAGE)), sort=sort)
