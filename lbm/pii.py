"""Personal data: normalisation and hashing of phone numbers and e-mail addresses.

LINE's APIs exchange a phone number or an e-mail address as the lower-case hex SHA-256 of its
normalised form (phone: E.164 with the leading ``+``, Taiwan as the default region; e-mail:
trimmed and lower-cased). Every Taiwanese mobile number is one of about 10^8, so such a hash is
reversible by trying them all. At rest we keep only ``keyed_hash``: HMAC-SHA256 under
``settings.PII_HASH_KEY`` over that SHA-256 hex string, so a LINE-style hash that arrives from a
client still matches, and a copy of the database does not give the numbers away.
"""

import hashlib
import hmac
import re
import unicodedata

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

DEFAULT_REGION = "TW"
_SHA256_HEX = re.compile(r"^[0-9a-f]{64}$")


class InvalidIdentifier(ValueError):
    """The value is not a phone number, e-mail address or hash of the expected form."""


# Taiwanese mobile numbers in their common compact forms (09xxxxxxxx, 8869xxxxxxxx,
# +8869xxxxxxxx): ``9[0-8]`` is the mobile range of libphonenumber's metadata for TW. They are
# normalised without a full parse (a measured shortcut: an upload holds up to 1.5 million of
# them); every other form goes through phonenumbers, and tests check that both paths agree.
TW_MOBILE = re.compile(r"(?:0|\+?886)(9[0-8]\d{7})")
_SEPARATORS = re.compile(r"[\s\-]")


def phone_e164(value: str, *, region: str = DEFAULT_REGION) -> str | None:
    """``value`` (already trimmed) in E.164 (``+886912345678``), or None when it is not a valid
    number. Taiwanese numbers may be written nationally (``0912-345-678``). The one phone
    normaliser of the project; no Django here (the hashing processes of an upload call it)."""
    match = TW_MOBILE.fullmatch(value)
    if match is None and ("-" in value or " " in value):
        match = TW_MOBILE.fullmatch(_SEPARATORS.sub("", value))
    if match is not None:
        return "+886" + match.group(1)
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_phone(raw: str, *, region: str = DEFAULT_REGION) -> str:
    """``phone_e164``, raising ``InvalidIdentifier`` when ``raw`` is not a valid number."""
    e164 = phone_e164(raw.strip(), region=region)
    if e164 is None:
        try:
            phonenumbers.parse(raw.strip(), region)
        except phonenumbers.NumberParseException as exc:
            raise InvalidIdentifier(
                _("“%(value)s” is not a phone number.") % {"value": raw}
            ) from exc
        raise InvalidIdentifier(_("“%(value)s” is not a valid phone number.") % {"value": raw})
    return e164


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Invisible characters that copy-and-paste brings along: zero-width space, non-joiner and joiner,
# word joiner, byte-order mark (a stray BOM inside a file too), soft hyphen.
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u2060\ufeff\u00ad"), None)
# A first character that spreadsheets read as a formula, or that no address starts with.
_REFUSED_FIRST = frozenset("=+-@")


def clean_email(raw: str) -> str | None:
    """The normalised form of an e-mail address, or None when it is malformed: Unicode NFKC (so
    a full-width ＠ or letter becomes ASCII), invisible characters removed, trimmed,
    lower-cased; refused when it starts with ``= + - @`` or holds a control or format
    character. LINE's APIs hash this form (docs/organizations.md#personal-data). No Django
    here: the hashing processes of an upload call it too."""
    value = unicodedata.normalize("NFKC", raw).translate(_INVISIBLE).strip().lower()
    if not value or value[0] in _REFUSED_FIRST or not _EMAIL.match(value):
        return None
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") for ch in value):
        return None
    return value


def normalise_email(raw: str) -> str:
    """``clean_email``, raising ``InvalidIdentifier`` when the address is malformed."""
    value = clean_email(raw)
    if value is None:
        raise InvalidIdentifier(_("“%(value)s” is not an e-mail address.") % {"value": raw})
    return value


def sha256_hex(normalised: str) -> str:
    """The LINE-style hash: lower-case hex SHA-256 of the normalised UTF-8 string."""
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def is_sha256_hex(value: str) -> bool:
    return bool(_SHA256_HEX.match(value))


def keyed_hasher():
    """``keyed_hash`` for many hashes: the HMAC key schedule is computed once. The caller
    passes LINE-style hashes it has already checked."""
    base = hmac.new(settings.PII_HASH_KEY.encode("utf-8"), digestmod=hashlib.sha256)

    def keyed(line_hash: str) -> str:
        mac = base.copy()
        mac.update(line_hash.encode("ascii"))
        return mac.hexdigest()

    return keyed


def keyed_hash(line_hash: str) -> str:
    """The form kept at rest: hex HMAC-SHA256 under PII_HASH_KEY over a LINE-style hash."""
    if not is_sha256_hex(line_hash):
        raise InvalidIdentifier(
            _("“%(value)s” is not a lower-case hex SHA-256.") % {"value": line_hash}
        )
    key = settings.PII_HASH_KEY.encode("utf-8")
    return hmac.new(key, line_hash.encode("ascii"), hashlib.sha256).hexdigest()


def email_keyed_hash(raw: str) -> str:
    return keyed_hash(sha256_hex(normalise_email(raw)))


def phone_keyed_hash(raw: str) -> str:
    return keyed_hash(sha256_hex(normalise_phone(raw)))


def mask_email(raw: str) -> str:
    """``chen@example.com`` → ``c***@example.com``, for showing which address was used."""
    local, _sep, domain = raw.partition("@")
    return f"{local[:1]}***@{domain}" if domain else "***"


def mask_phone(raw: str) -> str:
    """``0912345678`` (or ``+886912345678``) → ``0912***678``: the first four and last three
    digits of the national form, for a person to recognise a number without reading it whole.
    A value that is not a phone number gives ``***``."""
    try:
        number = phonenumbers.parse(raw.strip(), DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return "***"
    if not phonenumbers.is_valid_number(number):
        return "***"
    national = "".join(
        ch
        for ch in phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
        if ch.isdigit()
    )
    if number.country_code != 886:
        national = f"+{number.country_code}{national}"
    return f"{national[:4]}***{national[-3:]}"
