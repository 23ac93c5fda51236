"""A vendor's contacts on its page: the "Contacts" card (who they are, who is told of bank-detail
changes, and the notices they were sent), and the forms to add, change and remove one
(vendors.contacts). Clerks and administrators edit; every member reads."""

from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from core.exceptions import DocumentInvalid, DomainError
from core.http.forms import errors_add
from tenants.http.error_pages import post_only
from tenants.http.web import WebContext, tenant_view, web_of
from vendors.contact_notices import bank_change_notices
from vendors.contacts import (
    CONTACT_EDITOR_ROLES,
    vendor_contact_create,
    vendor_contact_delete,
    vendor_contact_update,
)
from vendors.models import Vendor, VendorContact
from vendors.selectors import vendor_contacts, vendor_list

CONTACT_ADDED = "{name} added as a contact of {vendor}."
CONTACT_SAVED = "Contact {name} of {vendor} saved."
CONTACT_REMOVED = "{name} is no longer a contact of {vendor}."


class VendorContactForm(forms.Form):
    """What a clerk types for a contact; vendors.contacts checks it, and its refusals go beside the
    fields (core.http.forms.errors_add), so the page and the API say the same."""

    name = forms.CharField(label="Name", required=False)
    email = forms.CharField(
        label="E-mail", required=False, widget=forms.EmailInput(attrs={"autocomplete": "off", "spellcheck": "false"})
    )
    phone = forms.CharField(label="Phone (optional)", required=False, widget=forms.TextInput(attrs={"type": "tel"}))
    role = forms.CharField(
        label="Role (optional)", required=False, help_text="What they do for the vendor, e.g. Accounts receivable."
    )
    notify_bank_changes = forms.BooleanField(
        label="Tell about bank-detail changes",
        required=False,
        help_text="E-mailed when a change of the vendor's bank account is proposed or approved.",
    )


def _edit_prefix(contact: VendorContact) -> str:
    return f"contact-{contact.pk}"


def contacts_context(
    *,
    web: WebContext | None,
    vendor: Vendor,
    add_form: VendorContactForm | None = None,
    edit_form: tuple[uuid.UUID, VendorContactForm] | None = None,
) -> dict[str, Any]:
    """What the "Contacts" card shows: each contact with an edit form for those who may edit, the
    add form, and the latest notices of bank-detail changes (who was told, when)."""
    may_edit = bool(web and web.role in CONTACT_EDITOR_ROLES)
    rows = []
    for contact in vendor_contacts(tenant=vendor.tenant, vendor=vendor):
        if edit_form is not None and edit_form[0] == contact.pk:
            form = edit_form[1]
        else:
            initial = {name: getattr(contact, name) for name in VendorContactForm.base_fields}
            form = VendorContactForm(initial=initial, prefix=_edit_prefix(contact))
        rows.append({"contact": contact, "form": form if may_edit else None})
    return {
        "vendor": vendor,
        "contacts": rows,
        "may_edit": may_edit,
        "add_form": add_form or VendorContactForm(initial={"notify_bank_changes": True}, prefix="new-contact"),
        "notices": bank_change_notices(tenant=vendor.tenant, vendor=vendor),
    }


def _vendor_of(web: WebContext, vendor_id: uuid.UUID) -> Vendor:
    vendor = vendor_list(tenant=web.tenant).filter(pk=vendor_id).first()
    if vendor is None:
        raise Http404
    return vendor


def _contact_of(web: WebContext, vendor: Vendor, contact_id: uuid.UUID) -> VendorContact:
    contact = vendor_contacts(tenant=web.tenant, vendor=vendor).filter(pk=contact_id).first()
    if contact is None:
        raise Http404
    return contact


def _back(vendor: Vendor) -> HttpResponse:
    return redirect(reverse("web:vendor-detail", kwargs={"vendor_id": vendor.pk}) + "#contacts")


def _refused_page(request: HttpRequest, vendor: Vendor, error: DomainError, **forms_shown: Any) -> HttpResponse:
    """The contacts again with each refusal beside its field (one naming no field, such as "only a
    clerk or an administrator", on top)."""
    context = contacts_context(web=web_of(request), vendor=vendor, **forms_shown)
    context |= {"nav": "vendors", "error": "" if isinstance(error, DocumentInvalid) else error.message}
    return render(request, "vendors/contacts.html", context, status=error.status_code)


_POST_ONLY = {"back": "web:vendor-detail", "back_label": "the vendor", "back_kwargs": ("vendor_id",)}


@tenant_view
@post_only(**_POST_ONLY, back_model=Vendor)
def vendor_contact_add_view(request: HttpRequest, vendor_id: uuid.UUID) -> HttpResponse:
    """POST a new contact (a clerk or an administrator); back to the vendor's page."""
    web = web_of(request)
    vendor = _vendor_of(web, vendor_id)
    form = VendorContactForm(request.POST, prefix="new-contact")
    form.is_valid()  # every field optional here: the service checks them
    try:
        contact = vendor_contact_create(
            tenant=web.tenant, vendor=vendor, actor=web.actor, member_role=web.role, **form.cleaned_data
        )
    except DomainError as exc:
        errors_add(form=form, error=exc)
        return _refused_page(request, vendor, exc, add_form=form)
    messages.success(request, CONTACT_ADDED.format(name=contact.name, vendor=vendor.name))
    return _back(vendor)


@tenant_view
@post_only(**_POST_ONLY, back_model=Vendor, owned=("contact_id", VendorContact))
def vendor_contact_edit_view(request: HttpRequest, vendor_id: uuid.UUID, contact_id: uuid.UUID) -> HttpResponse:
    """POST a contact's fields (a clerk or an administrator); back to the vendor's page."""
    web = web_of(request)
    vendor = _vendor_of(web, vendor_id)
    contact = _contact_of(web, vendor, contact_id)
    form = VendorContactForm(request.POST, prefix=_edit_prefix(contact))
    form.is_valid()
    try:
        contact = vendor_contact_update(
            tenant=web.tenant, contact=contact, actor=web.actor, member_role=web.role, changes=dict(form.cleaned_data)
        )
    except DomainError as exc:
        errors_add(form=form, error=exc)
        return _refused_page(request, vendor, exc, edit_form=(contact.pk, form))
    messages.success(request, CONTACT_SAVED.format(name=contact.name, vendor=vendor.name))
    return _back(vendor)


@tenant_view
@post_only(**_POST_ONLY, back_model=Vendor, owned=("contact_id", VendorContact))
def vendor_contact_remove_view(request: HttpRequest, vendor_id: uuid.UUID, contact_id: uuid.UUID) -> HttpResponse:
    """POST: remove a contact (a clerk or an administrator); back to the vendor's page."""
    web = web_of(request)
    vendor = _vendor_of(web, vendor_id)
    contact = _contact_of(web, vendor, contact_id)
    try:
        vendor_contact_delete(tenant=web.tenant, contact=contact, actor=web.actor, member_role=web.role)
    except DomainError as exc:
        return _refused_page(request, vendor, exc)
    messages.success(request, CONTACT_REMOVED.format(name=contact.name, vendor=vendor.name))
    return _back(vendor)
