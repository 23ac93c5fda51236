"""Bank account numbers at rest: encrypted for reading back, keyed-hashed for finding.

One mechanism for every account Recon keeps: a bank statement's own and counterparty accounts
(payments) and a vendor's bank accounts (vendors.bank_accounts). It lives in the kernel because
vendors sits below payments in the layers; payments.accounts re-exports it under its old names.

An IBAN identifies a person or a company's bank account, so a database dump must not show it:
it is stored Fernet-encrypted (core.crypto). Encryption is randomized, so the ciphertext
cannot be searched or be part of a unique key; beside it goes an HMAC-SHA256 of the normalized
number. A plain SHA-256 would not do: IBANs are a small, structured space, and a dump's hashes
could be reversed by enumerating them; the HMAC key is not in the database.

The HMAC key is derived like the encryption key (HKDF-SHA256 with its own `info` label) from the
first FIELD_ENCRYPTION_KEY entry, or from SECRET_KEY when that is unset. Rotating that secret
therefore changes every hash: stored hashes must then be recomputed from the decrypted numbers
(no command for that yet — README, "Bank statements"), or re-imports stop recognising earlier
lines and a vendor's payee accounts stop being recognised on its invoices.
"""

from __future__ import annotations

import functools
import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from core.crypto import decrypt_text, encrypt_text

# Binds the derived key to this one purpose (independent of the encryption key and of Django's).
_HASH_DERIVATION_INFO = b"recon account lookup hmac v1"
_MASK_VISIBLE = 4


def normalize_account(number: str) -> str:
    """The form that is hashed and stored, and by which a statement file's lines are told apart per
    account: no whitespace, upper case (IBANs are printed in groups)."""
    return "".join(number.split()).upper()


@functools.lru_cache(maxsize=4)
def _hash_key(configured: str, secret_key: str) -> bytes:
    first = next((part.strip() for part in configured.split(",") if part.strip()), "")
    material = first or secret_key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HASH_DERIVATION_INFO).derive(
        material.encode("utf-8")
    )


def account_hash(number: str) -> str:
    """HMAC-SHA256 (hex) of the normalized number; "" for no number."""
    from django.conf import settings

    normalized = normalize_account(number)
    if not normalized:
        return ""
    key = _hash_key(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)
    return hmac.new(key, normalized.encode("utf-8"), hashlib.sha256).hexdigest()


def encrypt_account(number: str) -> str:
    normalized = normalize_account(number)
    return encrypt_text(normalized) if normalized else ""


def decrypt_account(token: str) -> str:
    return decrypt_text(token) if token else ""


def mask_account(number: str) -> str:
    """Only the last four digits show: `NL91ABNA0417164300` → `****4300`.

    Digits, not characters: MT940 account ids often end in a currency (`NL20INGB0001234567EUR`),
    and `****7EUR` tells a clerk nothing. A number with fewer than four digits shows its last
    four characters.
    """
    normalized = normalize_account(number)
    if not normalized:
        return ""
    digits = [char for char in normalized if char.isdigit()]
    visible = "".join(digits[-_MASK_VISIBLE:]) if len(digits) >= _MASK_VISIBLE else normalized[-_MASK_VISIBLE:]
    return "****" + visible
