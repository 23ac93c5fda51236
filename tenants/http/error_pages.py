"""The web app's error pages: 404, 403 and 405 as pages in the app's layout, never a browser's
blank "HTTP ERROR 405" nor the API's JSON, which paths under /api/ keep (core.http.errors).

A form's address opened by GET (a reload after a refused form, a bookmark, the history) is not an
error the clerk made (#18 item 7): `post_only` (and `method_not_allowed_page` for any address
that does not take GET) redirects it to the page the form lives on, with a message that nothing
was changed. Other methods (PUT, DELETE: no browser sends them from a page) get the 405 page with
the `Allow` header and a link back. The Django handlers (`page_not_found`, `permission_denied`,
`csrf_failure`) give a signed-in member the navigation too, read as `tenant_view` reads it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.db import DatabaseError
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.http import errors as api_errors
from core.tenancy.scoping import TenantOwnedModel
from tenants.http.web import web_context_of

ViewFunc = Callable[..., HttpResponse]
# The objects a member may address through a URL parameter: the tenant's (a model), or fewer, read
# from the request (a saved view is its own user's only: review.invoice_list_views).
Addressable = type[TenantOwnedModel] | Callable[[HttpRequest], QuerySet[Any]]

FORBIDDEN = "Your role in this organisation does not allow this. Nothing was changed."
CSRF_EXPIRED = (
    "The form you sent had expired, or your browser did not send its cookie. Nothing was changed: "
    "go back, reload the page and send the form again."
)
NOTHING_CHANGED = "Nothing was changed: that address takes a form. Here is the page the form is on."
# Methods a browser sends when an address is opened (a link, a reload, a bookmark, the history).
OPENED = ("GET", "HEAD")


def _with_layout(request: HttpRequest) -> None:
    """The navigation for a signed-in member, when the request has not got it from tenant_view."""
    if getattr(request, "web", None) is not None or not request.user.is_authenticated:
        return
    try:
        context = web_context_of(request)
    except DatabaseError:
        return  # the page still says what happened, without the navigation
    if context is not None:
        request.web = context  # type: ignore[attr-defined]


def error_page(
    request: HttpRequest, *, template: str, status: int, context: dict[str, Any] | None = None
) -> HttpResponse:
    _with_layout(request)
    return render(request, template, context or {}, status=status)


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler404: the not-found page, or the envelope under /api/."""
    if api_errors.is_api_path(request.path):
        return api_errors.handler404(request, exception)
    return error_page(request, template="web/not_found.html", status=404)


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """handler403: the forbidden page, or the envelope under /api/."""
    if api_errors.is_api_path(request.path):
        return api_errors.handler403(request, exception)
    return error_page(request, template="web/forbidden.html", status=403, context={"message": FORBIDDEN})


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: API views are exempt (they authenticate by key or session through DRF),
    so this is a page's form sent without a valid token."""
    return error_page(request, template="web/forbidden.html", status=403, context={"message": CSRF_EXPIRED})


def method_not_allowed_page(
    request: HttpRequest, *, allowed: tuple[str, ...], back_url: str, back_label: str, redirect_get: bool = True
) -> HttpResponse:
    """The answer to a method the address does not take. An address opened by GET that takes only
    forms redirects to `back_url` (the page the form is on) with NOTHING_CHANGED (unless
    `redirect_get` is off); anything else is the 405 page with `Allow` and the link back."""
    if redirect_get and request.method in OPENED and "GET" not in allowed:
        messages.info(request, NOTHING_CHANGED)
        return redirect(back_url)
    response = error_page(
        request,
        template="web/method_not_allowed.html",
        status=405,
        context={"back_url": back_url, "back_label": back_label},
    )
    response["Allow"] = ", ".join(allowed)
    return response


def _addressable_objects(request: HttpRequest, addressable: Addressable) -> QuerySet[Any]:
    if isinstance(addressable, type):
        return addressable.objects.for_tenant(request.web.tenant)  # type: ignore[attr-defined]
    return addressable(request)


def post_only(
    *,
    back: str,
    back_label: str,
    back_kwargs: tuple[str, ...] = (),
    back_model: type[TenantOwnedModel] | None = None,
    owned: tuple[str, Addressable] | None = None,
) -> Callable[[ViewFunc], ViewFunc]:
    """For a view that takes a form's POST only: opened by GET it redirects to `back` (a URL name,
    reversed with the view's `back_kwargs`), e.g. the invoice whose decision form posts here,
    saying that nothing was changed; another method gets the 405 page linking there.

    An object named in the URL must be the member's to see before anything points at it: with
    `back_model`, the first of `back_kwargs` is the id of such an object; with `owned`, a URL
    parameter and its model (an object whose page is not the way back: a user, an API key), or a
    function of the request giving the objects the member may address (a saved view: its own
    user's only, the very selector the view's service reads). Another tenant's id, a colleague's
    private object and a missing id are the same 404 page whatever the method, as for the
    object's own page, so the answer never tells them apart. A URL naming an object (`…_id`)
    that neither checks keeps the 405 page on GET, which says nothing about the object either
    (a safety net: every form address of the app checks its objects, tests/web/test_tenant_matrix.py).
    Put it under `tenant_view` (or `admin_view`), which signs in and gives the layout (and turns
    the Http404 into the app's 404 page)."""
    checks: list[tuple[str, Addressable]] = [(back_kwargs[0], back_model)] if back_model is not None else []
    if owned is not None:
        checks.append(owned)
    checked = {name for name, _addressable in checks}

    def decorate(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "POST":
                return view(request, *args, **kwargs)
            for name, addressable in checks:
                if not _addressable_objects(request, addressable).filter(pk=kwargs[name]).exists():
                    raise Http404
            back_url = reverse(back, kwargs={name: kwargs[name] for name in back_kwargs})
            names_an_object = any(name.endswith("_id") for name in kwargs)
            if names_an_object and not checked:
                return method_not_allowed_page(
                    request, allowed=("POST",), back_url=back_url, back_label=back_label, redirect_get=False
                )
            return method_not_allowed_page(request, allowed=("POST",), back_url=back_url, back_label=back_label)

        return wrapper

    return decorate
