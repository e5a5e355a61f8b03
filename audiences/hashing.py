"""Turning raw lines of an ID file into stored member rows — no database, no settings.

This module runs in the worker processes of a large upload (``audiences.importers``: forked
from a process that has Django loaded, or spawned, importing only this module, when that process
runs threads; ``importers.pool_context``): the keys arrive as bytes, and problems leave as reason
codes that the caller translates. Of the project it uses only ``lbm.pii.clean_email``, so an
address is normalised by the one rule everywhere.

Stored forms
------------
* user ID: as given (``U`` + 32 lower-case hex); IDFA/AAID: lower-cased.
* phone number / e-mail address: the *keyed hash* ``K = HMAC-SHA256(PII_HASH_KEY, h)`` where
  ``h`` is the LINE-style hash, the lower-case hex SHA-256 of the normalised value (phone in
  E.164 with its ``+``, Taiwan as default region; e-mail by ``lbm.pii.clean_email``). ``K`` is the
  identifier: it matches an incoming LINE-style hash, and a copy of the database does not give
  the numbers away (``lbm.pii``).
* and, for phone numbers and e-mail addresses, the *sealed copy* of ``h``, so that an Admin can
  export the members as LINE-style hashes (docs/audiences.md#export-as-line-style-hashes)::

      K_seal = HKDF-SHA256(ikm=PII_HASH_KEY, salt=none, info=SEAL_INFO, length=64)
      sealed = AES-SIV(K_seal).encrypt(SHA256(normalised))        (16-byte SIV + 32 bytes)

  AES-SIV (RFC 5297, ``cryptography``'s ``AESSIV`` with a 512-bit key: AES-256) is
  deterministic authenticated encryption: the same value seals to the same 48 bytes, which
  reveals only that two identifiers are equal, as the identifier column already shows. Opening
  checks the SIV (a wrong key or a tampered row is detected, never silently exported) and then
  that the keyed hash of the result is the row's identifier (a sealed copy moved to another row
  does not open either). Nothing here is invertible without PII_HASH_KEY: the row holds neither
  the number nor its plain SHA-256. Cost: one AES-SIV call per ID
  (docs/audiences.md#export-as-line-style-hashes).

  Rows sealed before AES-SIV (32 bytes: ``SHA256(normalised) XOR HMAC-SHA256(K_v1, K)`` with
  ``K_v1 = HKDF-SHA256(PII_HASH_KEY, info=LEGACY_SEAL_INFO, length=32)``) are still opened, told
  apart by their length; none are written any more.
"""

import hashlib
import hmac
import re
from functools import lru_cache

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from lbm.pii import clean_email, phone_e164

SEAL_INFO = b"lbm/audiences/sealed-line-hash/v2"
LEGACY_SEAL_INFO = b"lbm/audiences/sealed-line-hash/v1"
SEALED_BYTES = 48  # AES-SIV: 16-byte synthetic IV + the 32-byte SHA-256
LEGACY_SEALED_BYTES = 32

# Reason codes (translated by ``audiences.importers``).
BAD_USER_ID = "user_id"
BAD_IFA = "ifa"
BAD_PHONE = "phone"
BAD_EMAIL = "email"
BAD_NUL = "nul"
EMPTY = "empty"

MAX_REPORTED = 10

USER_ID = re.compile(r"U[0-9a-f]{32}")
IFA = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
HEX64 = re.compile(r"[0-9a-fA-F]{64}")
# ``lbm.pii.TW_MOBILE`` at the byte level, for whole blocks: a block that is nothing but such
# lines (LF or CRLF) takes the fast path with no per-line decoding, stripping or branching.
_TW_MOBILE_BLOCK = re.compile(rb"(?:(?:0|\+?886)9[0-8]\d{7}\r?\n)*")
_TW_MOBILE_LINE = re.compile(rb"(?:0|\+?886)(9[0-8]\d{7})\r?\n")
BOM = b"\xef\xbb\xbf"


def _hkdf(pii_key: bytes, info: bytes, length: int) -> bytes:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(pii_key)


@lru_cache(maxsize=4)
def seal_key(pii_key: bytes) -> bytes:
    """``K_seal``: 64 bytes of HKDF-SHA256 of PII_HASH_KEY with the fixed ``SEAL_INFO``."""
    return _hkdf(pii_key, SEAL_INFO, 64)


@lru_cache(maxsize=4)
def legacy_seal_key(pii_key: bytes) -> bytes:
    """The key of the 32-byte sealed copies written before AES-SIV (opened, never written)."""
    return _hkdf(pii_key, LEGACY_SEAL_INFO, 32)


@lru_cache(maxsize=4)
def _siv(k_seal: bytes) -> AESSIV:
    return AESSIV(k_seal)


def _pads(key: bytes):
    """HMAC-SHA256 with the inner and outer pads hashed once (RFC 2104), copied per value:
    the same result as ``hmac.new(key, msg, "sha256")`` at a third of the cost."""
    if len(key) > 64:
        key = hashlib.sha256(key).digest()
    key = key.ljust(64, b"\0")
    return (
        hashlib.sha256(key.translate(hmac.trans_36)),
        hashlib.sha256(key.translate(hmac.trans_5C)),
    )


def open_sealed(identifier: str, sealed: bytes, *, pii_key: bytes, k_seal: bytes) -> str | None:
    """The LINE-style hash sealed in ``sealed``, or None when it does not verify (wrong key,
    a row that was tampered with, a sealed copy of another row)."""
    keyed = bytes.fromhex(identifier)
    if len(sealed) == LEGACY_SEALED_BYTES:
        pad = hmac.new(legacy_seal_key(pii_key), keyed, hashlib.sha256).digest()
        digest = (int.from_bytes(sealed, "big") ^ int.from_bytes(pad, "big")).to_bytes(32, "big")
    else:
        try:
            digest = _siv(k_seal).decrypt(sealed, None)
        except InvalidTag:
            return None
    line_hash = digest.hex()
    check = hmac.new(pii_key, line_hash.encode("ascii"), hashlib.sha256).digest()
    return line_hash if hmac.compare_digest(check, keyed) else None


class Rower:
    """Builds the stored rows of one ID type: ``row(line_hash_or_value)``."""

    def __init__(self, id_type: str, pii_key: bytes, k_seal: bytes | None):
        self.id_type = id_type
        self.inner, self.outer = _pads(pii_key)
        self.seal = _siv(k_seal).encrypt if k_seal else None

    def hashed(self, digest: bytes) -> tuple[str, str]:
        """(identifier, sealed hex) for the raw SHA-256 ``digest`` of a normalised value."""
        i = self.inner.copy()
        i.update(digest.hex().encode("ascii"))
        o = self.outer.copy()
        o.update(i.digest())
        keyed = o.digest()
        if self.seal is None:
            return keyed.hex(), ""
        return keyed.hex(), self.seal(digest, None).hex()


def normalise(rower: Rower, value: str) -> tuple[str, str] | str:
    """(identifier, sealed hex or "") for one trimmed value, or a reason code."""
    id_type = rower.id_type
    if id_type == "user_id":
        return (value, "") if USER_ID.fullmatch(value) else BAD_USER_ID
    if id_type == "ifa":
        return (value.lower(), "") if IFA.fullmatch(value) else BAD_IFA
    if len(value) == 64 and HEX64.fullmatch(value):  # already a LINE-style SHA-256
        return rower.hashed(bytes.fromhex(value))
    if id_type == "phone":
        e164 = phone_e164(value)
        if e164 is None:
            return BAD_PHONE
        return rower.hashed(hashlib.sha256(e164.encode("ascii")).digest())
    email = clean_email(value)
    if email is None:
        return BAD_EMAIL
    return rower.hashed(hashlib.sha256(email.encode("utf-8")).digest())


def process_block(
    block: bytes, first_line: int, id_type: str, pii_key: bytes, k_seal: bytes | None
) -> dict:
    """Validate and normalise one block of whole lines starting at line ``first_line``.

    Returns ``rows`` (PostgreSQL COPY text: ``identifier TAB sealed TAB line``), ``count``
    (IDs, valid or not), ``problems`` (the first (line, code) pairs), ``bad`` (how many),
    ``encoding_error`` (first line that is not UTF-8, or None), ``head_blank`` (blank lines
    before the first ID of the block: (first line, count)) and ``tail_blank`` (blank lines after
    its last ID). A block with no ID at all reports its blank lines as ``head_blank``."""
    if first_line == 1 and block.startswith(BOM):
        block = block[3:]
    if block and not block.endswith(b"\n"):
        block += b"\n"
    rower = Rower(id_type, pii_key, k_seal)
    out = {
        "rows": b"",
        "count": 0,
        "problems": [],
        "bad": 0,
        "encoding_error": None,
        "head_blank": (first_line, 0),
        "tail_blank": (first_line, 0),
    }
    if id_type == "phone" and _TW_MOBILE_BLOCK.fullmatch(block):
        out["rows"], out["count"] = _fast_phones(block, first_line, rower)
        return out
    return _slow_block(block, first_line, rower, out)


def _fast_phones(block: bytes, first_line: int, rower: Rower) -> tuple[bytes, int]:
    """The hot path of a 1.5-million-line file: every line is a compact TW mobile number.
    Per number: SHA-256 continued from the hashed "+886" prefix, the HMAC from its precomputed
    pads, and one AES-SIV call."""
    prefix = hashlib.sha256(b"+886")
    inner, outer = rower.inner, rower.outer
    seal = rower.seal
    parts = []
    append = parts.append
    line = first_line
    for national in _TW_MOBILE_LINE.findall(block):
        h = prefix.copy()
        h.update(national)
        i = inner.copy()
        i.update(h.hexdigest().encode())
        o = outer.copy()
        o.update(i.digest())
        keyed = o.digest()
        if seal is None:
            append(f"{keyed.hex()}\t\\N\t{line}\n")
        else:
            append(f"{keyed.hex()}\t\\\\x{seal(h.digest(), None).hex()}\t{line}\n")
        line += 1
    return "".join(parts).encode("ascii"), line - first_line


def _slow_block(block: bytes, first_line: int, rower: Rower, out: dict) -> dict:
    parts = []
    problems = out["problems"]
    bad = 0
    count = 0
    blank_start, blank_count = first_line, 0
    seen_id = False
    line_no = first_line - 1
    for raw in block.split(b"\n")[:-1]:
        line_no += 1
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            out["encoding_error"] = line_no
            break
        value = text.strip()
        if len(value) > 1 and value[0] == '"' and value[-1] == '"':
            value = value[1:-1].strip()  # a CSV cell in quotes
        if not value:
            if blank_count == 0:
                blank_start = line_no
            blank_count += 1
            continue
        if blank_count:
            if not seen_id:
                out["head_blank"] = (blank_start, blank_count)
            else:  # blank lines between two IDs of this block
                bad += blank_count
                for n in range(blank_start, blank_start + min(blank_count, MAX_REPORTED)):
                    if len(problems) < MAX_REPORTED:
                        problems.append((n, EMPTY))
            blank_count = 0
        seen_id = True
        count += 1
        result = BAD_NUL if "\x00" in value else normalise(rower, value)
        if isinstance(result, str):
            bad += 1
            if len(problems) < MAX_REPORTED:
                problems.append((line_no, result))
            continue
        identifier, sealed = result
        parts.append(
            f"{identifier}\t{chr(92) * 2 + 'x' + sealed if sealed else chr(92) + 'N'}\t{line_no}\n"
        )
    if blank_count:
        if seen_id:
            out["tail_blank"] = (blank_start, blank_count)
        else:
            out["head_blank"] = (blank_start, blank_count)
    out["rows"] = "".join(parts).encode("utf-8")
    out["count"] = count
    out["bad"] = bad
    return out


def process_task(task: tuple) -> dict:
    """``process_block`` with its arguments in one tuple (for a process pool)."""
    return process_block(*task)


def child_defaults() -> None:
    """A hashing process's first step: the default signal handlers, not the parent's (a Celery
    worker's handlers would keep a forked child from exiting on SIGTERM)."""
    import signal

    for name in ("SIGTERM", "SIGINT", "SIGQUIT", "SIGHUP", "SIGUSR1", "SIGUSR2", "SIGCHLD"):
        number = getattr(signal, name, None)
        if number is not None:
            signal.signal(number, signal.SIG_DFL)
