"""Encryption at rest of the personal data a notice must keep for a while.

The LINE-style hash of a phone number (lower-case hex SHA-256 of its E.164 form) is reversible by
trying every number, so it is never stored in clear: a notice keeps it as a Fernet token (AES-128
CBC + HMAC-SHA256, ``cryptography``) until its webhook is sent and the failed-notice export no
longer needs it. The Fernet key is derived from ``settings.PII_HASH_KEY`` with HKDF-SHA256 and a
fixed context string, so it differs from the keyed-hash key while needing no new secret.
"""

import base64
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

CONTEXT = b"lbm.notifications.personal-data.fernet.v1"


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=CONTEXT).derive(
        secret.encode("utf-8")
    )
    return Fernet(base64.urlsafe_b64encode(key))


def fernet() -> Fernet:
    return _fernet(settings.PII_HASH_KEY)


def encrypt(value: str) -> str:
    """A Fernet token of ``value`` ("" stays "")."""
    if not value:
        return ""
    return fernet().encrypt(value.encode("utf-8")).decode("ascii")


def decrypt(token: str) -> str:
    """The value of a token ("" for "", and for a token that no longer decrypts)."""
    if not token:
        return ""
    try:
        return fernet().decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        return ""


def encrypt_json(value) -> str:
    return encrypt(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def decrypt_json(token: str, default=None):
    text = decrypt(token)
    return json.loads(text) if text else default
