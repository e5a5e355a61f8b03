"""Query-string and form values as LINE's clients send them."""

from .errors import LineAPIError


def parse_bool(value, *, name: str, default: bool | None = None) -> bool | None:
    """``True``/``False`` in any case (the Python SDK sends ``True``), also ``1``/``0``."""
    if value is None or value == "":
        return default
    text = str(value).strip().lower()
    if text in {"true", "1"}:
        return True
    if text in {"false", "0"}:
        return False
    raise LineAPIError("The request has 1 error(s)",
                       details=[(f"Invalid boolean value: {value}", name)])


def parse_int(value, *, name: str, default: int | None = None, minimum: int | None = None,
              maximum: int | None = None) -> int | None:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise LineAPIError("The request has 1 error(s)",
                           details=[(f"Invalid number: {value}", name)]) from None
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        raise LineAPIError("The request has 1 error(s)",
                           details=[(f"Out of range: {value}", name)])
    return number
