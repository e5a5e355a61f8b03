"""Request body parsers of the API: bounded in size and depth, and only text the database can
keep (docs/api.md#errors). A body that breaks a rule is a LINE-shaped 400 or 413, never a 500."""

import json
import math

from django.conf import settings
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .errors import LineAPIError
from .params import text_is_storable

MAX_DEPTH = 32  # LINE's bodies nest a few levels; Python's json recursion ends near 1000


def max_body_bytes() -> int:
    """The largest JSON body accepted: 10,000 audience ids with room to spare."""
    return int(getattr(settings, "LBM_API_MAX_JSON_BYTES", 2 * 1024 * 1024))


def too_large() -> LineAPIError:
    return LineAPIError("The request body is too large.", status_code=413)


def _content_length(parser_context) -> int | None:
    request = (parser_context or {}).get("request")
    raw = getattr(request, "META", {}).get("CONTENT_LENGTH") if request is not None else None
    try:
        return int(raw) if raw else None
    except ValueError:
        return None


def check_value(value, depth: int = 0, where: str = "") -> None:
    """Raise a 400 when ``value`` nests too deep or holds text the database cannot keep."""
    if depth > MAX_DEPTH:
        raise LineAPIError(
            "The request body has 1 error(s)", details=[("nested too deeply", where or None)]
        )
    if isinstance(value, str):
        if not text_is_storable(value):
            raise LineAPIError(
                "The request body has 1 error(s)", details=[("Invalid characters", where or None)]
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            name = f"{where}.{key}" if where else str(key)
            if not text_is_storable(key):
                raise LineAPIError(
                    "The request body has 1 error(s)", details=[("Invalid characters", None)]
                )
            check_value(item, depth + 1, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_value(item, depth + 1, f"{where}[{index}]")
    elif isinstance(value, float) and not math.isfinite(value):  # 1e999 parses as infinity
        raise LineAPIError(
            "The request body has 1 error(s)", details=[("Invalid number", where or None)]
        )


class LineJSONParser(parsers.JSONParser):
    """DRF's JSON parser, bounded: at most ``max_body_bytes()`` (413 beyond), strict JSON (no
    ``NaN``), UTF-8, ``MAX_DEPTH`` levels, no NUL or lone surrogate in any string."""

    def parse(self, stream, media_type=None, parser_context=None):
        limit = max_body_bytes()
        length = _content_length(parser_context)
        if length is not None and length > limit:
            raise too_large()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise too_large()
        try:
            text = raw.decode("utf-8")
            data = json.loads(text, parse_constant=_refuse_constant)
        except (ValueError, RecursionError) as exc:
            raise ParseError("JSON parse error") from exc
        check_value(data)
        return data


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


class LineMultiPartParser(parsers.MultiPartParser):
    """DRF's multipart parser; its form fields (not the file) hold only storable text."""

    def parse(self, stream, media_type=None, parser_context=None):
        result = super().parse(stream, media_type, parser_context)
        for key, values in result.data.lists():
            check_value(key)
            for value in values:
                check_value(value, 1, key)
        return result
