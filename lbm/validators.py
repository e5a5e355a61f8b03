"""Format and checksum rules for Taiwanese business numbers and LINE Official Account IDs."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# 統一編號 checksum (Ministry of Finance): weights 1,2,1,2,1,2,4,1; each product's digits are
# added; the total must be divisible by 5 (by 10 before the 2023 change, which every old number
# still satisfies). When the 7th digit is 7 its product 28 counts as either 10 → 1 or 0, so the
# number is valid if the total or the total plus one is divisible by 5.
_WEIGHTS = (1, 2, 1, 2, 1, 2, 4, 1)


def business_number_is_valid(value: str) -> bool:
    if not re.fullmatch(r"\d{8}", value or ""):
        return False
    total = 0
    for digit, weight in zip(value, _WEIGHTS, strict=True):
        product = int(digit) * weight
        total += product // 10 + product % 10
    if total % 5 == 0:
        return True
    return value[6] == "7" and (total + 1) % 5 == 0


def validate_business_number(value: str) -> None:
    if not re.fullmatch(r"\d{8}", value or ""):
        raise ValidationError(
            _("A business number (統一編號) has exactly 8 digits; “%(value)s” does not."),
            code="business_number_format",
            params={"value": value},
        )
    if not business_number_is_valid(value):
        raise ValidationError(
            _(
                "“%(value)s” fails the business number (統一編號) checksum; "
                "please check the digits."
            ),
            code="business_number_checksum",
            params={"value": value},
        )


BASIC_ID_RE = re.compile(r"^@[a-z]{3}\d{4}[a-z]$")
PREMIUM_ID_RE = re.compile(r"^@[a-z0-9._-]{4,18}$")


def validate_basic_id(value: str) -> None:
    if not BASIC_ID_RE.match(value or ""):
        raise ValidationError(
            _(
                "A basic ID is @, 3 letters, 4 digits and 1 letter (e.g. @abc3049d); "
                "“%(value)s” is not."
            ),
            code="basic_id_format",
            params={"value": value},
        )


def validate_premium_id(value: str) -> None:
    if not PREMIUM_ID_RE.match(value or ""):
        raise ValidationError(
            _(
                "A premium ID is @ followed by 4 to 18 lower-case letters, digits, “.”, “_” "
                "or “-”; "
                "“%(value)s” is not."
            ),
            code="premium_id_format",
            params={"value": value},
        )
