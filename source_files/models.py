"""The kept files and the documents each one created."""

from __future__ import annotations

from django.db import models

from core.tenancy.scoping import TenantOwnedModel

SHA256_HEX_LENGTH = 64


class SourceFile(TenantOwnedModel):
    """One imported file, stored once per tenant: the same bytes again are the same row.

    The bytes live in the `source_files` storage (Django's storage API: source_files.storage)
    under `storage_name`, a name derived from the tenant and the digest alone; the row says what
    the file is, so a download never has to guess from its content.
    """

    sha256 = models.CharField(max_length=SHA256_HEX_LENGTH, editable=False)
    size = models.BigIntegerField(editable=False)
    # What the importer recognised it as (application/pdf, application/xml, text/csv,
    # text/plain): the Content-Type it is served with, never the client's claim.
    content_type = models.CharField(max_length=100)
    # The name it had when it first arrived ("" for a raw request body); later uploads of the
    # same content keep the first name.
    filename = models.CharField(max_length=255, blank=True, default="")
    storage_name = models.CharField(max_length=255, editable=False)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # Content-addressed per tenant; leads with the tenant (core.tenancy.scoping).
            models.UniqueConstraint(fields=["tenant", "sha256"], name="sourcefile_unique_tenant_sha256"),
            models.CheckConstraint(condition=models.Q(size__gte=0), name="sourcefile_size_gte_0"),
        ]

    def __str__(self) -> str:
        return self.filename or self.sha256[:12]


class SourceFileDocument(TenantOwnedModel):
    """A document a kept file created: an invoice, a purchase order, a goods receipt, a statement import.

    The document is named by its model's label and id rather than a foreign key: the documents'
    apps sit above this one (DESIGN.md §2), and one table serves every kind. A document has one
    original; a file may have created many (a CSV of 500 invoices).
    """

    source_file = models.ForeignKey(SourceFile, on_delete=models.PROTECT, related_name="documents")
    document_model = models.CharField(max_length=64)  # the model's label_lower: "invoices.invoice"
    document_id = models.UUIDField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "document_model", "document_id"], name="sourcefiledocument_unique_document"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "source_file"], name="sourcefiledoc_tenant_file")]

    def __str__(self) -> str:
        return f"{self.document_model} {self.document_id}"
