"""Bank account numbers at rest: the kernel's one mechanism (core.bank_accounts), under the names
payments has always used. Vendors' bank accounts use the same keys, so a statement's counterparty
account and a vendor's payee account hash alike."""

from __future__ import annotations

from core.bank_accounts import account_hash, decrypt_account, encrypt_account, mask_account, normalize_account

__all__ = ["account_hash", "decrypt_account", "encrypt_account", "mask_account", "normalize_account"]
