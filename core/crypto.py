"""Encryption of secrets Recon must be able to read back (webhook signing secrets), with Fernet.

API keys are stored as hashes because Recon only ever compares them. A webhook secret is
different: verifying an HMAC needs the secret itself, so it is stored encrypted and decrypted
only at the moment a delivery is verified. Fernet (AES-128-CBC + HMAC-SHA256, from
`cryptography`) authenticates the ciphertext, so a tampered or foreign value fails loudly
instead of decrypting to garbage.

The key: `FIELD_ENCRYPTION_KEY`, one or more comma-separated Fernet keys (url-safe base64 of
32 bytes; `python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"`).
The first key encrypts, every key decrypts (`MultiFernet`), so a key is rotated by putting the
new one first, rotating the stored secrets, then dropping the old one.

When `FIELD_ENCRYPTION_KEY` is unset the key is derived from `SECRET_KEY` with HKDF-SHA256 and a
fixed, purpose-bound `info` label. Why that is acceptable, and where it stops being so:

- Acceptable for local runs, tests and a first deployment: the derived key is as secret as
  `SECRET_KEY`, which must already be protected (whoever holds it can forge sessions), and a
  database dump or backup alone still does not reveal any webhook secret. HKDF with its own label
  keeps the derived key independent of Django's own uses of `SECRET_KEY` (signing never sees it).
- Not acceptable as the long-term production setup: it couples two secrets with different
  lifecycles. Rotating `SECRET_KEY` (after a leak, say) silently makes every stored webhook
  secret undecryptable, and a leaked `SECRET_KEY` also exposes the webhook secrets. Production
  should set `FIELD_ENCRYPTION_KEY` explicitly (and keep the old key listed second while rotating).
"""

from __future__ import annotations

import base64
import binascii
import functools

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

# Binds the derived key to this one purpose: another HKDF use of SECRET_KEY with another label
# yields an unrelated key.
_DERIVATION_INFO = b"recon field encryption v1"

INVALID_KEY = (
    "FIELD_ENCRYPTION_KEY must be comma-separated Fernet keys (url-safe base64 of 32 bytes); "
    "entry {position} is not one. Generate one with: "
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)
UNDECRYPTABLE = (
    "A stored secret cannot be decrypted with the configured FIELD_ENCRYPTION_KEY (or, when unset, "
    "the key derived from SECRET_KEY). Was a key changed without keeping the old one listed?"
)


class FieldDecryptionError(RuntimeError):
    """A stored ciphertext does not open with any configured key: a configuration fault."""


def derive_secret(material: str, *, info: bytes) -> bytes:
    """32 bytes derived from `material` (HKDF-SHA256) for the one purpose `info` names."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(material.encode("utf-8"))


def derive_key(secret_key: str) -> bytes:
    """The Fernet key derived from `SECRET_KEY` when no explicit key is configured."""
    return base64.urlsafe_b64encode(derive_secret(secret_key, info=_DERIVATION_INFO))


def parse_keys(value: str) -> list[bytes]:
    """The configured keys, first one encrypting; `ValueError` naming the bad entry otherwise."""
    keys = [part.strip().encode("ascii", "replace") for part in value.split(",") if part.strip()]
    for position, key in enumerate(keys, start=1):
        try:
            Fernet(key)
        except ValueError as exc:
            raise ValueError(INVALID_KEY.format(position=position)) from exc
    return keys


@functools.lru_cache(maxsize=4)
def _fernet(configured: str, secret_key: str) -> MultiFernet:
    keys = parse_keys(configured) if configured.strip() else [derive_key(secret_key)]
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    # Settings are read per call (cached by value), so tests that override them take effect.
    from django.conf import settings

    return _fernet(settings.FIELD_ENCRYPTION_KEY, settings.SECRET_KEY)


def encrypt_text(plaintext: str) -> str:
    """The Fernet token of `plaintext`, as text for a TextField."""
    return _current().encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt_text(token: str) -> str:
    """The plaintext of a stored token; `FieldDecryptionError` when no configured key opens it."""
    try:
        return _current().decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, UnicodeError) as exc:
        raise FieldDecryptionError(UNDECRYPTABLE) from exc


# --- Ed25519 signing keys (audit checkpoints) ----------------------------------------------------
# A signature anyone can check with the public half, which only the holder of the private half
# can make: an auditor given the public key can verify what Recon signed without being able to
# sign anything. Keys travel as url-safe base64 of their 32 raw bytes; any 32 random bytes are
# a private key: python -c "import base64,os; print(base64.urlsafe_b64encode(os.urandom(32)).decode())"

INVALID_SIGNING_KEY = "{name} must be url-safe base64 of 32 bytes (an Ed25519 {half} key){detail}"


def _raw_32(value: str, *, name: str, half: str) -> bytes:
    try:
        # Strict: a stray character is an error, not silently skipped (either base64 alphabet).
        raw = base64.b64decode(value.strip().replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, UnicodeError, ValueError) as exc:
        raise ValueError(INVALID_SIGNING_KEY.format(name=name, half=half, detail=", and is not base64")) from exc
    if len(raw) != 32:
        raise ValueError(INVALID_SIGNING_KEY.format(name=name, half=half, detail=f"; it decodes to {len(raw)} bytes"))
    return raw


def signing_key_parse(value: str, *, name: str) -> Ed25519PrivateKey:
    """The private key written in setting `name`; `ValueError` naming it otherwise."""
    return Ed25519PrivateKey.from_private_bytes(_raw_32(value, name=name, half="private"))


def signing_key_derive(secret_key: str, *, info: bytes) -> Ed25519PrivateKey:
    """A private key derived from `SECRET_KEY` for the one purpose `info` names."""
    return Ed25519PrivateKey.from_private_bytes(derive_secret(secret_key, info=info))


def public_key_parse(value: str, *, name: str) -> Ed25519PublicKey:
    """A public key as `public_key_text` writes it; `ValueError` naming `name` otherwise."""
    return Ed25519PublicKey.from_public_bytes(_raw_32(value, name=name, half="public"))


def public_key_text(key: Ed25519PublicKey) -> str:
    """The public key as url-safe base64 of its 32 raw bytes (what an auditor is handed)."""
    return base64.urlsafe_b64encode(key.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode("ascii")
