"""Webhooks in (DESIGN.md §8): signature verification, then QuickBooks / Xero bills to invoices.

Signatures
----------
Every scheme is an HMAC-SHA256 over the *raw* body bytes, before any parsing (re-serialized JSON
would not be the bytes that were signed), compared with `hmac.compare_digest`. The key is the
tenant's own secret (`Tenant.webhook_secret_encrypted`, decrypted only here), or the global
`WEBHOOK_SECRET` when the tenant has none; with neither, every delivery is refused. The scheme is
chosen by the headers present, in this order:

- Standard Webhooks (standardwebhooks.com spec v1.0.0 and its reference library):
  `webhook-id`, `webhook-timestamp` (Unix seconds), `webhook-signature` = space-separated
  `v1,<base64 HMAC>` entries (several during the sender's key rotation: any one valid suffices).
  Signed content `{webhook-id}.{webhook-timestamp}.{body}`; key = base64-decoded part after
  `whsec_`. A timestamp more than WEBHOOK_TOLERANCE_SECONDS from now, either way, is refused.
- QuickBooks Online (Intuit "Managing webhooks notifications"): `intuit-signature` = base64 of
  the HMAC of the body keyed with the verifier token as text.
- Xero ("Configuring your server", "Intent to receive"): `x-xero-signature` = base64 of the HMAC
  of the body keyed with the webhook key as text. Xero's server contract: 200 for a correctly
  signed payload, 401 for an incorrectly signed one, *no body* in either response.

One stored secret serves every scheme (tenants.models.generate_webhook_secret): Standard Webhooks
uses its decoded bytes, QuickBooks and Xero its text.

Replays
-------
The delivery id is `webhook-id` (Standard Webhooks) or the SHA-256 of the raw body (QuickBooks
and Xero send none). Each authenticated delivery is stored as a `WebhookDelivery` *before* its
documents, in the same transaction: the unique constraint makes a concurrent or later copy wait
for the first, then find it, and answer "already received" without creating anything again.

Payloads
--------
Normalized to invoice documents by invoices.ingest.webhook_payloads (QuickBooks Bills, Xero
ACCPAY invoices; the senders' own notifications and other entities are ignored), then created
through the one door, `invoice_create(..., source=webhook)`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.actors import Actor
from core.crypto import decrypt_text
from core.exceptions import DocumentInvalid
from invoices.bulk import DocumentStored, InvoiceBatchInvalid
from invoices.documents import InvoiceDocument
from invoices.ingest.webhook_payloads import (
    IGNORED_EMPTY,
    Normalized,
    SourceDocument,
    webhook_documents,
    webhook_payload_parse,
)
from invoices.models import InvoiceSource
from invoices.services import invoice_create_many
from purchasing.models import PurchaseOrder
from tenants.models import WEBHOOK_SECRET_PREFIX, Tenant, WebhookDelivery, generate_webhook_secret
from vendors.ingest import VendorCache

logger = logging.getLogger(__name__)

Source = WebhookDelivery.Source
Outcome = WebhookDelivery.Outcome

# --- headers (lower-case; Django's request.headers is case-insensitive) ---------------------------
STANDARD_ID, STANDARD_TIMESTAMP, STANDARD_SIGNATURE = "webhook-id", "webhook-timestamp", "webhook-signature"
INTUIT_SIGNATURE = "intuit-signature"
XERO_SIGNATURE = "x-xero-signature"

# --- refusals: one answer for every reason, so a caller learns nothing; the reason is logged -----
SIGNATURE_REFUSED = "The webhook signature could not be verified."
REASON_UNKNOWN_TENANT = "unknown or inactive tenant"
REASON_NO_SECRET = "no signing secret: the tenant has none and WEBHOOK_SECRET is unset"
REASON_NO_SIGNATURE = "no signature header (webhook-signature, intuit-signature or x-xero-signature)"
REASON_HEADERS_INCOMPLETE = "webhook-id, webhook-timestamp and webhook-signature are all required"
REASON_BAD_TIMESTAMP = "webhook-timestamp is not a whole number of seconds"
REASON_STALE = "webhook-timestamp is {skew:+d} s from now; at most {tolerance} s either way"
REASON_MISMATCH = "no signature matches"
LOG_SIGNATURE_REFUSED = "webhook refused: tenant=%s scheme=%s reason=%s"
LOG_IGNORED = "webhook ignored: tenant=%s scheme=%s delivery=%s reason=%s"
LOG_REJECTED = "webhook document rejected: tenant=%s scheme=%s delivery=%s details=%s"

# --- outcomes ----------------------------------------------------------------------------------
REPLAYED = "Delivery already received ({outcome}); acknowledged and ignored."
CREATED = "Created {count} invoice(s)."
ALREADY_PRESENT = "Every invoice of this delivery is already stored; nothing was created."

_MAX_DELIVERY_ID = 255  # WebhookDelivery.delivery_id


# --- verification ------------------------------------------------------------------------------


class WebhookSignatureInvalid(Exception):
    """A delivery that is not authentic; `reason` is for the log only, never for the caller."""

    def __init__(self, scheme: str, reason: str) -> None:
        super().__init__(reason)
        self.scheme = scheme
        self.reason = reason


@dataclass(frozen=True)
class VerifiedDelivery:
    source: str  # WebhookDelivery.Source
    delivery_id: str


def webhook_scheme(headers: Mapping[str, str]) -> str | None:
    """The signature scheme the headers announce, or None."""
    if headers.get(STANDARD_SIGNATURE):
        return Source.STANDARD
    if headers.get(INTUIT_SIGNATURE):
        return Source.QUICKBOOKS
    if headers.get(XERO_SIGNATURE):
        return Source.XERO
    return None


def _signing_secret(tenant: Tenant) -> str:
    # A FieldDecryptionError propagates as a 500 on purpose: it is our configuration fault, and
    # a 5xx makes the sender retry later, where a 401 could make it disable the subscription.
    if tenant.webhook_secret_encrypted:
        return decrypt_text(tenant.webhook_secret_encrypted)
    return settings.WEBHOOK_SECRET


def _standard_key(secret: str) -> bytes:
    """The HMAC key of a Standard Webhooks secret: the base64 after `whsec_`.

    As in the reference library, unpadded base64 is accepted. A global WEBHOOK_SECRET that is not
    base64 at all is used as its text, so one plain secret still serves every scheme.
    """
    encoded = secret.removeprefix(WEBHOOK_SECRET_PREFIX)
    try:
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        return secret.encode("utf-8")


def _b64(value: str) -> bytes | None:
    try:
        return base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None


def _header_bytes(value: str) -> bytes:
    # WSGI hands header bytes over decoded as latin-1; encoding back recovers what was signed.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode("utf-8")


def webhook_verify(
    *, tenant: Tenant | None, headers: Mapping[str, str], body: bytes, now: float | None = None
) -> VerifiedDelivery:
    """The authenticated delivery, or `WebhookSignatureInvalid`.

    `tenant` is None when the URL names no active tenant: the HMAC is still computed (with a
    throw-away key) so that answer takes about as long as a wrong signature for a real tenant.
    """
    scheme = webhook_scheme(headers)
    if scheme is None:
        raise WebhookSignatureInvalid("none", REASON_NO_SIGNATURE)
    secret = _signing_secret(tenant) if tenant is not None else ""
    refusal = REASON_UNKNOWN_TENANT if tenant is None else (REASON_NO_SECRET if not secret else "")
    try:
        delivery_id = _verify_scheme(
            scheme, headers, body, secret or generate_webhook_secret(), now=time.time() if now is None else now
        )
    except WebhookSignatureInvalid as exc:
        raise WebhookSignatureInvalid(scheme, refusal or exc.reason) from None
    if refusal:  # pragma: no cover - a fresh random key does not verify anything
        raise WebhookSignatureInvalid(scheme, refusal)
    return VerifiedDelivery(source=scheme, delivery_id=delivery_id)


def _verify_scheme(scheme: str, headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> str:
    """The delivery id once the scheme's signature verifies with `secret`."""
    if scheme == Source.STANDARD:
        return _verify_standard(headers, body, secret, now=now)
    header = INTUIT_SIGNATURE if scheme == Source.QUICKBOOKS else XERO_SIGNATURE
    expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    given = _b64(headers.get(header, "")) or b""
    if not hmac.compare_digest(expected, given):
        raise WebhookSignatureInvalid(scheme, REASON_MISMATCH)
    # Neither sender gives a delivery id; identical bytes are the same delivery.
    return hashlib.sha256(body).hexdigest()


def _verify_standard(headers: Mapping[str, str], body: bytes, secret: str, *, now: float) -> str:
    scheme = Source.STANDARD
    msg_id = headers.get(STANDARD_ID, "")
    timestamp = headers.get(STANDARD_TIMESTAMP, "").strip()
    signatures = headers.get(STANDARD_SIGNATURE, "")
    if not (msg_id and timestamp and signatures):
        raise WebhookSignatureInvalid(scheme, REASON_HEADERS_INCOMPLETE)
    if not re.fullmatch(r"\d{1,12}", timestamp):
        raise WebhookSignatureInvalid(scheme, REASON_BAD_TIMESTAMP)
    tolerance = settings.WEBHOOK_TOLERANCE_SECONDS
    skew = int(timestamp) - int(now)
    if abs(skew) > tolerance:
        raise WebhookSignatureInvalid(scheme, REASON_STALE.format(skew=skew, tolerance=tolerance))
    signed = _header_bytes(msg_id) + b"." + timestamp.encode("ascii") + b"." + body
    expected = hmac.new(_standard_key(secret), signed, hashlib.sha256).digest()
    matched = False
    for entry in signatures.split():
        version, _, encoded = entry.partition(",")
        given = _b64(encoded) if version == "v1" else None
        # Every candidate is compared (no early exit), so timing does not tell which one matched.
        matched |= given is not None and hmac.compare_digest(expected, given)
    if not matched:
        raise WebhookSignatureInvalid(scheme, REASON_MISMATCH)
    if len(msg_id) > _MAX_DELIVERY_ID:  # signed, so authentic; hashed to fit the column
        return "sha256:" + hashlib.sha256(msg_id.encode("utf-8")).hexdigest()
    return msg_id


# --- the delivery ----------------------------------------------------------------------------------


@dataclass
class WebhookOutcome:
    """What became of one authenticated delivery, and how to answer it."""

    status: int
    outcome: str  # a WebhookDelivery.Outcome, or "duplicate_delivery"
    delivery_id: str
    detail: str
    invoice_ids: list[str] = field(default_factory=list)
    existing_invoice_ids: list[str] = field(default_factory=list)
    error: DocumentInvalid | None = None  # set with status 400
    empty_body: bool = False  # Xero's own notifications: Xero requires a response without a body

    def as_response(self) -> dict[str, Any]:
        return {
            "delivery_id": self.delivery_id,
            "outcome": self.outcome,
            "detail": self.detail,
            "invoice_ids": self.invoice_ids,
            "existing_invoice_ids": self.existing_invoice_ids,
        }


DUPLICATE_DELIVERY = "duplicate_delivery"


def _actor(delivery: VerifiedDelivery) -> Actor:
    return Actor(kind="system", id=f"webhook:{delivery.source}", label=f"webhook {delivery.delivery_id}"[:255])


def _with_po_number(tenant: Tenant, item: SourceDocument) -> InvoiceDocument:
    """The document with its QBO purchase-order link applied where it names a PO of this tenant.

    QBO links a bill to a PO by the PO's internal id (LinkedTxn.TxnId), not by its DocNumber.
    It is the PO number only where this tenant's POs were loaded from QBO by id; otherwise the
    invoice goes in without a PO number and matching infers the PO from the vendor's open POs,
    rather than reporting a misleading `po_not_found`.
    """
    reference = item.po_reference
    if reference and PurchaseOrder.objects.for_tenant(tenant).filter(po_number=reference).exists():
        return replace(item.document, po_number=reference)
    return item.document


def _store(*, tenant: Tenant, delivery: VerifiedDelivery, normalized: Normalized) -> tuple[list[str], list[str]]:
    """Create the delivery's invoices through the one door's many-documents form, all or nothing;
    (created ids, already stored ids).

    A burst (Xero sends a page of up to 100 bills in one delivery) is checked document by document
    and written with one statement per table, not one door call per bill. A bill already stored,
    or repeated within the delivery, is answered with that invoice (`resends_skipped`).
    """
    items = normalized.documents
    try:
        outcomes = invoice_create_many(
            tenant=tenant,
            documents=[_with_po_number(tenant, item) for item in items],
            actor=_actor(delivery),
            source=InvoiceSource.WEBHOOK,
            vendors=VendorCache(tenant),
            resends_skipped=True,
        )
    except InvoiceBatchInvalid as exc:
        if len(items) == 1:
            raise exc.refused[0] from None
        # Each problem by its path in the sender's payload (Invoices[3].currency), as the
        # payload's own problems are.
        details = {
            f"{items[index].path}.{key}" if key else items[index].path: messages
            for index, problem in sorted(exc.refused.items())
            for key, messages in (problem.details or {"": [problem.message]}).items()
        }
        message = exc.refused[min(exc.refused)].message if len(exc.refused) == 1 else exc.message
        raise DocumentInvalid(message, details=details) from exc
    created: list[str] = []
    existing: list[str] = []
    for outcome in outcomes:
        assert isinstance(outcome, DocumentStored)  # all or nothing: a refusal raised above
        (created if outcome.created else existing).append(str(outcome.invoice.pk))
    return created, existing


def _claim(*, tenant: Tenant, delivery: VerifiedDelivery) -> WebhookDelivery | None:
    """The new delivery row, or None when this delivery was received before.

    A concurrent copy's INSERT waits on the first one's uncommitted row and then fails on the
    unique constraint, so exactly one of them goes on to create invoices.
    """
    try:
        with transaction.atomic():
            return WebhookDelivery.objects.create(
                tenant=tenant,
                source=delivery.source,
                delivery_id=delivery.delivery_id,
                received_at=timezone.now(),
                outcome=Outcome.IGNORED,  # replaced below, in the same transaction
            )
    except IntegrityError:
        return None


def webhook_delivery_ingest(*, tenant: Tenant, delivery: VerifiedDelivery, body: bytes) -> WebhookOutcome:
    """Record an authenticated delivery and create the invoices it holds, all or nothing.

    200 already received (a replay) or every invoice already stored; 201 invoices created; 202
    nothing to ingest (another entity, a sales invoice); 200 for a sender's own notification;
    400 an invalid document (recorded as rejected: a retry of the same body fails the same way).
    """
    invalid: DocumentInvalid | None = None
    normalized = Normalized()
    try:
        normalized = webhook_documents(webhook_payload_parse(body))
    except DocumentInvalid as exc:
        invalid = exc
    empty_body = delivery.source == Source.XERO and normalized.xero_notification
    with transaction.atomic():
        record = _claim(tenant=tenant, delivery=delivery)
        if record is None:
            first = WebhookDelivery.objects.for_tenant(tenant).get(
                source=delivery.source, delivery_id=delivery.delivery_id
            )
            return WebhookOutcome(
                status=200,
                outcome=DUPLICATE_DELIVERY,
                delivery_id=delivery.delivery_id,
                detail=REPLAYED.format(outcome=first.outcome),
                empty_body=empty_body,
            )
        result = _outcome(tenant=tenant, delivery=delivery, normalized=normalized, invalid=invalid)
        result.empty_body = empty_body
        record.outcome = result.outcome
        record.detail = result.detail[:500]
        record.save(update_fields=["outcome", "detail"])
    if result.outcome == Outcome.IGNORED:
        logger.info(LOG_IGNORED, tenant.pk, delivery.source, delivery.delivery_id, result.detail)
    elif result.error is not None:
        logger.warning(LOG_REJECTED, tenant.pk, delivery.source, delivery.delivery_id, result.error.details)
    return result


def _outcome(
    *, tenant: Tenant, delivery: VerifiedDelivery, normalized: Normalized, invalid: DocumentInvalid | None
) -> WebhookOutcome:
    delivery_id = delivery.delivery_id
    created: list[str] = []
    existing: list[str] = []
    if invalid is None:
        try:
            with transaction.atomic():  # a savepoint: a later invalid invoice undoes the earlier ones
                created, existing = _store(tenant=tenant, delivery=delivery, normalized=normalized)
        except DocumentInvalid as exc:
            invalid = exc
    if invalid is not None:
        detail = f"{invalid.message} {json.dumps(invalid.details, default=str)}"
        return WebhookOutcome(400, Outcome.REJECTED, delivery_id, detail, error=invalid)
    if created:
        return WebhookOutcome(201, Outcome.CREATED, delivery_id, CREATED.format(count=len(created)), created, existing)
    if existing:
        return WebhookOutcome(200, Outcome.ALREADY_PRESENT, delivery_id, ALREADY_PRESENT, [], existing)
    if normalized.notification:
        # Not 202: Xero and Intuit document 200 as the answer to their notifications, and
        # retry (Xero then disables the subscription) on anything else.
        return WebhookOutcome(200, Outcome.IGNORED, delivery_id, normalized.notification)
    return WebhookOutcome(202, Outcome.IGNORED, delivery_id, " ".join(normalized.ignored) or IGNORED_EMPTY)
