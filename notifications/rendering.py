"""Pure functions on template content: placeholders, the advertising pre-screen, the rules of a
template version (scenario restrictions, masking rule, link), masking and rendering.

Placeholders are written ``{{name}}`` (lower-case letters, digits and ``_``, starting with a
letter) in the title, body, field labels and values, and the call-to-action URL.
"""

import re
from dataclasses import dataclass

from django.utils.translation import gettext as _

from .models import (
    FIELD_RULES,
    FORBIDDEN,
    MASKED,
    RESERVATION_SCENARIOS,
    RESERVATION_SERVICE_TYPES,
    CtaKind,
    FieldKind,
    Scenario,
    Utility,
)

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
PLACEHOLDER_NAME = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
MAX_FIELDS = 10
MAX_VALUE_LENGTH = 200
LIFF_PREFIX = "https://liff.line.me/"

# Advertising and promotion words (no promotion or discount: docs/notifications.md#templates).
# Chinese words match anywhere; English ones as whole words, case-insensitively.
ADVERTISING_WORDS_ZH = (
    "優惠",
    "折扣",
    "促銷",
    "限時",
    "免費",
    "抽獎",
    "特價",
    "折價",
    "贈品",
    "好康",
    "團購",
    "折價券",
    "買一送一",
)
ADVERTISING_WORDS_EN = (
    "coupon",
    "coupons",
    "sale",
    "sales",
    "discount",
    "discounts",
    "promo",
    "promotion",
    "promotions",
    "free",
    "offer",
    "offers",
    "deal",
    "deals",
    "giveaway",
    "lottery",
)
_ADVERTISING = re.compile(
    "|".join(
        [re.escape(w) for w in sorted(ADVERTISING_WORDS_ZH, key=len, reverse=True)]
        + [r"\b" + re.escape(w) + r"\b" for w in ADVERTISING_WORDS_EN]
    ),
    re.IGNORECASE,
)

ADVERTISING = "advertising"
UNDECLARED = "undeclared_placeholder"


@dataclass(frozen=True)
class Content:
    """The content of a template version, as plain data."""

    scenario: str
    title: str
    body: str
    placeholders: list
    fields: list
    cta_label: str = ""
    cta_kind: str = ""
    cta_url: str = ""
    exempt: bool = False
    service_type: str = ""
    utility: str = ""
    promotional_points: bool = False

    @classmethod
    def of(cls, version) -> "Content":
        return cls(**{name: getattr(version, name) for name in CONTENT_FIELDS})

    def parts(self) -> list[tuple[str, str]]:
        """Each text of the template with its name, as the pre-screen reports it."""
        parts = [("title", self.title), ("body", self.body)]
        for i, field in enumerate(self.fields):
            parts.append((f"fields[{i}].label", field.get("label", "")))
            parts.append((f"fields[{i}].value", field.get("value", "")))
        parts += [("cta_label", self.cta_label), ("cta_url", self.cta_url)]
        return parts


CONTENT_FIELDS = (
    "scenario",
    "title",
    "body",
    "placeholders",
    "fields",
    "cta_label",
    "cta_kind",
    "cta_url",
    "exempt",
    "service_type",
    "utility",
    "promotional_points",
)


def used_placeholders(content: Content) -> list[str]:
    seen: list[str] = []
    for _part, text in content.parts():
        for match in PLACEHOLDER.finditer(text or ""):
            if match.group(1) not in seen:
                seen.append(match.group(1))
    return seen


def prescreen(content: Content) -> list[dict]:
    """Flagged spans: advertising or promotion words, and placeholders not declared.

    Each flag is ``{"part", "start", "end", "text", "kind"}``, offsets into that part's text."""
    declared = set(content.placeholders)
    flags = []
    for part, text in content.parts():
        text = text or ""
        for match in _ADVERTISING.finditer(text):
            flags.append(
                {
                    "part": part,
                    "start": match.start(),
                    "end": match.end(),
                    "text": match.group(0),
                    "kind": ADVERTISING,
                }
            )
        for match in PLACEHOLDER.finditer(text):
            if match.group(1) not in declared:
                flags.append(
                    {
                        "part": part,
                        "start": match.start(),
                        "end": match.end(),
                        "text": match.group(0),
                        "kind": UNDECLARED,
                    }
                )
    return flags


def exempt_problems(content: Content) -> list[str]:
    """Why the template may not be phone-verification exempt (empty: it may)."""
    problems = []
    for field in content.fields:
        rule = FIELD_RULES.get(field.get("kind", FieldKind.TEXT))
        if rule == FORBIDDEN:
            problems.append(
                _(
                    "The field “%(label)s” (%(kind)s) may not be shown in a "
                    "phone-verification exempt template."
                )
                % {"label": field.get("label", ""), "kind": FieldKind(field["kind"]).label}
            )
        elif rule == MASKED and not field.get("masked"):
            problems.append(
                _(
                    "The field “%(label)s” (%(kind)s) must be masked in a "
                    "phone-verification exempt template."
                )
                % {"label": field.get("label", ""), "kind": FieldKind(field["kind"]).label}
            )
    return problems


def content_problems(content: Content) -> list[str]:
    """Every rule of docs/notifications.md#templates the content breaks, in words (empty: none)."""
    problems = []
    if content.scenario not in Scenario.values:
        return [_("Choose one of the 18 notification scenarios.")]
    if not (content.title or "").strip():
        problems.append(_("A template needs a title."))
    if not (content.body or "").strip():
        problems.append(_("A template needs a body."))
    if content.scenario in RESERVATION_SCENARIOS and (
        content.service_type not in RESERVATION_SERVICE_TYPES
    ):
        problems.append(
            _(
                "Reservation notices are allowed only for restaurant reservations, "
                "offline services and offline events."
            )
        )
    if content.scenario == Scenario.OUTAGE and content.utility not in Utility.values:
        problems.append(
            _(
                "Outage notices are allowed only for power, gas and telecom "
                "infrastructure; choose the utility."
            )
        )
    if content.scenario == Scenario.POINTS and content.promotional_points:
        problems.append(_("Points notices may not announce free points given by a promotion."))
    if not isinstance(content.placeholders, list):
        problems.append(_("Placeholders must be a list of names."))
    else:
        for name in content.placeholders:
            if not isinstance(name, str) or not PLACEHOLDER_NAME.match(name):
                problems.append(
                    _(
                        "“%(name)s” is not a placeholder name: use lower-case letters, "
                        "digits and _, starting with a letter."
                    )
                    % {"name": name}
                )
        if len(set(content.placeholders)) != len(content.placeholders):
            problems.append(_("A placeholder is declared twice."))
    problems += _field_problems(content.fields)
    problems += _cta_problems(content)
    if content.exempt:
        problems += exempt_problems(content)
    return problems


def _field_problems(fields) -> list[str]:
    if not isinstance(fields, list):
        return [_("Fields must be a list.")]
    problems = []
    if len(fields) > MAX_FIELDS:
        problems.append(_("A template has at most %(max)d fields.") % {"max": MAX_FIELDS})
    for field in fields:
        if not isinstance(field, dict) or not str(field.get("label", "")).strip():
            problems.append(_("Every field needs a label."))
            continue
        if field.get("kind", FieldKind.TEXT) not in FieldKind.values:
            problems.append(
                _("The field “%(label)s” has an unknown kind.") % {"label": field["label"]}
            )
    return problems


def _cta_problems(content: Content) -> list[str]:
    if not content.cta_url and not content.cta_kind and not content.cta_label:
        return []
    problems = []
    if not content.cta_label.strip():
        problems.append(_("A call-to-action needs a label."))
    url = content.cta_url or ""
    if not url.startswith("https://"):
        problems.append(_("The call-to-action must be an https link or a LIFF URL."))
    elif content.cta_kind == CtaKind.LIFF and not url.startswith(LIFF_PREFIX):
        problems.append(
            _("A LIFF call-to-action starts with %(prefix)s.") % {"prefix": LIFF_PREFIX}
        )
    if content.cta_kind not in CtaKind.values:
        problems.append(_("Choose whether the call-to-action is a link or a LIFF page."))
    return problems


def mask(value: str, kind: str = FieldKind.TEXT) -> str:
    """``王小明`` → ``王*明``; numbers keep their last 4 digits (``**********5678``)."""
    value = str(value)
    if len(value) <= 1:
        return "*"
    if kind in (FieldKind.PHONE, FieldKind.CARD_NUMBER, FieldKind.ACCOUNT_NUMBER) and (
        len(value) > 4
    ):
        return "*" * (len(value) - 4) + value[-4:]
    if kind == FieldKind.EMAIL and "@" in value:
        local, _at, domain = value.partition("@")
        return f"{local[:1]}***@{domain}"
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def substitute(text: str, values: dict[str, str]) -> str:
    return PLACEHOLDER.sub(lambda m: str(values.get(m.group(1), m.group(0))), text or "")


def render(content: Content, values: dict[str, str]) -> dict:
    """The message the user sees: placeholders filled in, fields marked masked masked."""
    fields = []
    for field in content.fields:
        value = substitute(field.get("value", ""), values)
        if field.get("masked"):
            value = mask(value, field.get("kind", FieldKind.TEXT))
        fields.append({"label": substitute(field.get("label", ""), values), "value": value})
    return {
        "title": substitute(content.title, values),
        "body": substitute(content.body, values),
        "fields": fields,
        "cta": {"label": content.cta_label, "url": substitute(content.cta_url, values)}
        if content.cta_url
        else None,
    }


def value_problems(declared: list[str], values) -> list[str]:
    """Missing, extra or malformed placeholder values (empty: the values fit)."""
    if values is None:
        values = {}
    if not isinstance(values, dict):
        return [_("Placeholder values must be given as name: value pairs.")]
    problems = []
    missing = [name for name in declared if name not in values]
    extra = sorted(name for name in values if name not in declared)
    if missing:
        problems.append(_("Missing placeholder values: %(names)s.") % {"names": ", ".join(missing)})
    if extra:
        problems.append(
            _("Placeholder values not in the template: %(names)s.")
            % {"names": ", ".join(str(n) for n in extra)}
        )
    for name in declared:
        value = values.get(name)
        if name in values and (not isinstance(value, str) or not value.strip()):
            problems.append(_("The value of “%(name)s” must be non-empty text.") % {"name": name})
        elif isinstance(value, str) and len(value) > MAX_VALUE_LENGTH:
            problems.append(
                _("The value of “%(name)s” is longer than %(max)d characters.")
                % {"name": name, "max": MAX_VALUE_LENGTH}
            )
    return problems
