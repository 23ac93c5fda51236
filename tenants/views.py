"""Log in, log out, and switch between the tenants a user is a member of."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from tenants.authentication import SESSION_TENANT_KEY
from tenants.http.error_pages import method_not_allowed_page, post_only
from tenants.http.login_throttle import ThrottledAuthenticationForm
from tenants.http.web import tenant_view, web_of

NOT_A_MEMBER = "You are not a member of that organisation."
SWITCHED = "You are now working in {tenant}."


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    redirect_authenticated_user = True
    authentication_form = ThrottledAuthenticationForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.locked_out_message:
            response.status_code = 429  # the page says why and for how long
        return response


class LogoutView(auth_views.LogoutView):
    """POST only (Django's rule since 5.0): a link or an image cannot log anyone out."""

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return method_not_allowed_page(
            request, allowed=("POST", "OPTIONS"), back_url=reverse("web:dashboard"), back_label="the dashboard"
        )


@tenant_view
@post_only(back="web:dashboard", back_label="the dashboard")
def tenant_switch(request: HttpRequest) -> HttpResponse:
    """Remember the chosen tenant in the session; every later request checks the membership again."""
    chosen = request.POST.get("tenant_id", "")
    # The memberships read before the request was scoped to its current tenant (tenants.http.web):
    # inside that scope the others are invisible, as every other tenant's rows are.
    membership = next((m for m in web_of(request).memberships if str(m.tenant_id) == chosen), None)
    if membership is None:
        messages.error(request, NOT_A_MEMBER)
    else:
        request.session[SESSION_TENANT_KEY] = str(membership.tenant_id)
        messages.success(request, SWITCHED.format(tenant=membership.tenant.name))
    return redirect("web:dashboard")
