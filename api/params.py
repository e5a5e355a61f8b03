"""Query-string and form values as LINE's clients send them. Every number is bounded (a signed
64-bit integer at most, the database's widest), so an out-of-range value is a 400, never a
database error (docs/api.md#errors)."""

import re

from .errors import LineAPIError

INT64_MAX = 2**63 - 1
PAGE_MAX = 2**31 - 1  # (page - 1) × size stays far inside 64 bits
_INTEGER = re.compile(r"[+-]?[0-9]+")  # ASCII digits only: int() also takes "١٢" and "1_0"


def _one_error(message: str, name: str) -> LineAPIError:
    return LineAPIError("The request has 1 error(s)", details=[(message, name)])


def check_text(value, *, name: str, max_length: int | None = None) -> str:
    """A text value as the database can keep it: no NUL, no lone surrogate, bounded."""
    text = "" if value is None else str(value)
    if "\x00" in text or not text_is_storable(text):
        raise _one_error("Invalid characters", name)
    if max_length is not None and len(text) > max_length:
        raise _one_error(f"size must be between 0 and {max_length}", name)
    return text


def text_is_storable(text: str) -> bool:
    """No NUL (PostgreSQL's text refuses it) and valid UTF-8 (no lone surrogate)."""
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def parse_bool(value, *, name: str, default: bool | None = None) -> bool | None:
    """``True``/``False`` in any case (the Python SDK sends ``True``), also ``1``/``0``."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    shown = value if len(str(value)) <= 40 and text_is_storable(str(value)) else "…"
    raise _one_error(f"Invalid boolean value: {shown}", name)


def parse_int(
    value,
    *,
    name: str,
    default: int | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int | None:
    if value is None or value == "":
        return default
    text = str(value).strip()
    if not _INTEGER.fullmatch(text):
        shown = text if len(text) <= 40 and text_is_storable(text) else "…"
        raise _one_error(f"Invalid number: {shown}", name)
    if len(text) > 20:  # longer than any 64-bit integer (and int() on it would be slow)
        raise _one_error(f"Out of range: {text[:40]}…", name)
    number = int(text)
    low = -INT64_MAX - 1 if minimum is None else minimum
    high = INT64_MAX if maximum is None else min(maximum, INT64_MAX)
    if not low <= number <= high:
        raise _one_error(f"Out of range: {text}", name)
    return number


def valid_id(value) -> bool:
    """A database id: a positive signed 64-bit integer (bools are not ids)."""
    return type(value) is int and 0 < value <= INT64_MAX
