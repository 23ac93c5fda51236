"""The daily digest e-mail (#18 item 4): each morning, what a member has to do in one tenant.

A member switches it on for themselves on "My work" (tenants.services.membership_digest_set,
audited). The
schedule (`review.tasks.send_daily_digests`, every DIGEST_SCHEDULE_MINUTES) sends each subscribed
member's digest once a day, on its first pass at or after DIGEST_HOUR (UTC): the day it was sent is
kept on the membership (`digest_sent_on`), taken under the row's lock, so a pass that runs twice
or on two workers sends it once. A member with nothing to do gets no e-mail that day.

The mail goes through Django's backend (EMAIL_BACKEND: the console in development, SMTP in a
deployment), plain text, with links to the app at APP_BASE_URL.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from invoices.models import Invoice, InvoiceStatus, ReviewQueue
from review.assignments import Sla, assigned_invoices, owned_disputes, review_sla_days, sla_of
from review.decisions import can_review
from review.models import Dispute, Notification
from tenants.models import Membership, Tenant

logger = logging.getLogger(__name__)

DIGEST_ON = "You will get a digest of your work by e-mail each morning."
DIGEST_OFF = "No more digest e-mails."
LISTED_MAX = 20  # rows of each list in the mail; the rest is a count and a link


@dataclass
class Digest:
    """One member's day in one tenant: what the e-mail says."""

    tenant: Tenant
    user: Any
    invoices: list[tuple[Invoice, Sla]] = field(default_factory=list)
    invoices_total: int = 0
    disputes: list[tuple[Dispute, bool]] = field(default_factory=list)
    disputes_total: int = 0
    unread: int = 0
    unassigned_in_review: int = 0

    @property
    def overdue(self) -> int:
        return sum(sla.overdue for _invoice, sla in self.invoices) + sum(late for _dispute, late in self.disputes)

    @property
    def empty(self) -> bool:
        return not (self.invoices_total or self.disputes_total or self.unread or self.unassigned_in_review)


def digest_for(*, membership: Membership, today: dt.date, sla_days: int) -> Digest:
    """What `membership`'s digest says on `today`, lateness by the tenant's `sla_days`."""
    tenant, user = membership.tenant, membership.user
    invoices = assigned_invoices(tenant=tenant, user_id=user.pk)
    disputes = owned_disputes(tenant=tenant, user_id=user.pk)
    digest = Digest(tenant=tenant, user=user, invoices_total=invoices.count(), disputes_total=disputes.count())
    for invoice in invoices[:LISTED_MAX]:
        sla = sla_of(invoice, sla_days=sla_days, today=today)
        digest.invoices.append((invoice, sla))
    digest.invoices.sort(key=lambda pair: (not pair[1].overdue, pair[0].created_at))
    digest.disputes = [
        (dispute, dispute.due_date is not None and dispute.due_date < today) for dispute in disputes[:LISTED_MAX]
    ]
    digest.unread = Notification.objects.for_tenant(tenant).filter(user=user, read_at__isnull=True).count()
    in_review = Invoice.objects.for_tenant(tenant).filter(status=InvoiceStatus.PENDING_REVIEW, assigned_to__isnull=True)
    probe = Invoice(status=InvoiceStatus.PENDING_REVIEW, review_queue=ReviewQueue.ESCALATED)
    if not can_review(role=membership.role, invoice=probe):
        # A clerk is told of the queue they can take work from, not of the approvers'.
        in_review = in_review.exclude(review_queue=ReviewQueue.ESCALATED)
    digest.unassigned_in_review = in_review.count()
    return digest


def _app_url(name: str, **kwargs: Any) -> str:
    return settings.APP_BASE_URL.rstrip("/") + reverse(name, kwargs=kwargs or None)


def digest_message(digest: Digest, *, today: dt.date) -> tuple[str, str]:
    """The e-mail's subject and plain-text body."""
    overdue = f", {digest.overdue} overdue" if digest.overdue else ""
    subject = f"Recon · {digest.tenant.name}: {digest.invoices_total + digest.disputes_total} to work on{overdue}"
    body = render_to_string(
        "review/digest_email.txt",
        {
            "digest": digest,
            "today": today,
            "invoice_links": [
                (invoice, sla, _app_url("web:invoice-detail", invoice_id=invoice.pk))
                for invoice, sla in digest.invoices
            ],
            "dispute_links": [
                (dispute, late, _app_url("web:dispute-detail", dispute_id=dispute.pk))
                for dispute, late in digest.disputes
            ],
            "my_work_url": _app_url("web:my-work"),
            "notifications_url": _app_url("web:notifications"),
            "queue_url": _app_url("web:queue", queue=ReviewQueue.STANDARD),
        },
    )
    return subject, body


def digests_send(*, tenant: Tenant, now: dt.datetime | None = None) -> int:
    """Send today's digest to each subscribed active member of `tenant` who has not had it yet
    and has something to do; returns how many were sent. Before DIGEST_HOUR (UTC), none."""
    now = now or timezone.now()
    if now.astimezone(dt.UTC).hour < settings.DIGEST_HOUR:
        return 0
    today = now.astimezone(dt.UTC).date()
    waiting = (
        Membership.objects.for_tenant(tenant).filter(is_active=True, digest_email=True).exclude(digest_sent_on=today)
    )
    sla_days = review_sla_days(tenant)  # once for the tenant, not per member
    sent = 0
    for membership_id in list(waiting.values_list("pk", flat=True)):
        with transaction.atomic():
            membership = (
                Membership.objects.for_tenant(tenant)
                .select_for_update(no_key=True, skip_locked=True)
                .select_related("tenant", "user")
                .filter(pk=membership_id, digest_email=True)
                .exclude(digest_sent_on=today)
                .first()
            )
            if membership is None or not membership.user.email:
                continue  # sent meanwhile by another pass, switched off, or no address
            membership.digest_sent_on = today
            membership.save(update_fields=["digest_sent_on"])
            digest = digest_for(membership=membership, today=today, sla_days=sla_days)
            if digest.empty:
                continue
            subject, body = digest_message(digest, today=today)
            # Inside the transaction: a mail server that refuses leaves the day unmarked, so the
            # next pass tries again (and a crash after sending may send twice, never zero times).
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [membership.user.email])
            sent += 1
    return sent
