"""The zh-Hant catalogue (docs/language.md): every model name, field name and choice label of the
project has a translation, and Chinese text uses full-width punctuation and 「」 quotes."""

import re
from pathlib import Path

import django
import pytest
from django.apps import apps
from django.utils import translation

PROJECT_APPS = {"lbm", "audiences", "billing", "notifications", "api"}
CATALOGUE = Path(__file__).resolve().parents[2] / "locale/zh_Hant/LC_MESSAGES/django.po"
# Names that read the same in both languages: LINE's product names and abbreviations.
SAME_IN_BOTH = {"ID", "URL", "LINE Pay", "LINE POINTS", "LINE Tag", "IDFA/AAID", "Messaging API"}
# simple-history's bookkeeping columns: the history pages label them themselves.
# Fields no page shows: django-guardian's permission rows (lbm.permissions reads them).
NOT_SHOWN = {"lbm.OrganizationUserObjectPermission.content_object"}
BOOKKEEPING = {
    "history_id",
    "history_date",
    "history_change_reason",
    "history_user",
    "history_relation",
}


def _third_party_field(model, name) -> bool:
    """A field declared by a library's abstract base (django-guardian's permission rows)."""
    for base in model.__mro__[1:]:
        meta = getattr(base, "_meta", None)
        if (
            meta is not None
            and meta.abstract
            and base.__module__.split(".")[0] not in PROJECT_APPS
            and any(f.name == name for f in [*meta.fields, *meta.private_fields])
        ):
            return True
    return False


def _hidden(name) -> bool:
    return name.endswith(("_hash", "_secret"))  # never shown (lbm.history_admin._hidden)


def project_texts():
    """(where, lazy text) of every name a project model shows."""
    for model in apps.get_models(include_auto_created=True):
        opts = model._meta
        if opts.app_label not in PROJECT_APPS:
            continue
        historical = hasattr(model, "instance_type")  # simple-history's generated copy
        if not historical:
            yield f"{opts.label} verbose_name", opts.verbose_name
            yield f"{opts.label} verbose_name_plural", opts.verbose_name_plural
        for field in opts.get_fields():
            if not getattr(field, "concrete", False) or _third_party_field(model, field.name):
                continue
            if (
                _hidden(field.name)
                or field.name in BOOKKEEPING
                or f"{opts.label}.{field.name}" in NOT_SHOWN
            ):
                continue
            if not historical or field.name == "history_type":
                if not historical:
                    yield f"{opts.label}.{field.name}", field.verbose_name
                for value, label in field.flatchoices:
                    yield f"{opts.label}.{field.name}={value}", label


def test_the_project_models_were_found():
    wheres = [where for where, _ in project_texts()]
    assert len(wheres) > 300
    assert "lbm.Organization.status=approved" in wheres
    assert "lbm.HistoricalOrganization.history_type=~" in wheres


def test_every_model_field_and_choice_label_has_a_zh_hant_translation():
    missing = []
    for where, text in project_texts():
        with translation.override("en"):
            english = str(text)
        with translation.override("zh-hant"):
            chinese = str(text)
        if chinese == english and english not in SAME_IN_BOTH:
            missing.append(f"{where}: {english!r}")
    assert missing == []


def _unquote(chunk: str) -> str:
    return (
        "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', chunk))
        .replace('\\"', '"')
        .replace("\\n", "\n")
        .replace("\\\\", "\\")
    )


def catalogue_entries(path=CATALOGUE):
    """(msgid, [msgstr…]) of a catalogue (the project's by default), obsolete entries left
    out."""
    for block in re.split(r"\n\s*\n", path.read_text(encoding="utf-8")):
        lines = [line for line in block.splitlines() if not line.startswith("#")]
        text = "\n".join(lines)
        msgid = re.search(r'^msgid ((?:".*"\n?)+)', text + "\n", re.M)
        if not msgid or not _unquote(msgid.group(1)):
            continue
        strs = [
            _unquote(m)
            for m in re.findall(r'^msgstr(?:\[\d+\])? ((?:".*"\n?)+)', text + "\n", re.M)
        ]
        yield _unquote(msgid.group(1)), strs


CJK = r"[\u3400-\u9fff\u3000-\u303f\uff00-\uffef]"
HALF_WIDTH = [
    ("half-width , : ; after Chinese", re.compile(rf"{CJK}\s*[,:;]")),
    ("half-width , : ; before Chinese", re.compile(rf"[,:;]\s*{CJK}")),
    ("half-width full stop after Chinese", re.compile(rf"{CJK}\.(\s|$)")),
    ('"…" quotes in Chinese (use 「」)', re.compile(r'["“”]')),
]


def punctuation_problems(text: str) -> list[str]:
    if not re.search(r"[\u3400-\u9fff]", text):
        return []
    text = re.sub(r"<[^>]*>", "", text)  # HTML attributes keep their ASCII quotes
    text = re.sub(r"「[^」]*」", "「X」", text)  # a quoted literal (what to type) is kept as is
    text = re.sub(r"%\([a-z_]+\)[sd]|\{[^}]*\}", "X", text)  # placeholders are not Chinese
    return [name for name, pattern in HALF_WIDTH if pattern.search(text)]


@pytest.mark.parametrize(
    "text, problems",
    [
        ("狀態：審核中", []),
        ("狀態: 審核中", ["half-width , : ; after Chinese", "half-width , : ; before Chinese"]),
        ("已核准,請稍候", ["half-width , : ; after Chinese", "half-width , : ; before Chinese"]),
        ('請按"確認"', ['"…" quotes in Chinese (use 「」)']),
        ("完成.", ["half-width full stop after Chinese"]),
        ('<a href="/admin/">返回</a>，10:30', []),
        ("NT$1,200 (%(count)d): ok", []),
        ("請輸入「name: value」", []),
    ],
)
def test_the_punctuation_check_itself(text, problems):
    assert punctuation_problems(text) == problems


def test_chinese_in_the_catalogue_uses_full_width_punctuation_and_corner_quotes():
    found = [
        f"{msgid!r} → {msgstr!r}: {', '.join(problems)}"
        for msgid, msgstrs in catalogue_entries()
        for msgstr in msgstrs
        if (problems := punctuation_problems(msgstr))
    ]
    assert found == []


def test_the_catalogue_reader_reads_the_catalogue():
    entries = dict(catalogue_entries())
    assert len(entries) > 1000
    assert entries["Import"] == ["匯入"]


DJANGO = Path(django.__file__).resolve().parent
# Django's own zh_Hant catalogues of what the admin shows; the project catalogue overrides their
# half-width punctuation (what the apps not installed or not shown say is left alone).
SHOWN_CATALOGUES = [
    DJANGO / "contrib/admin/locale/zh_Hant/LC_MESSAGES/django.po",
    DJANGO / "contrib/auth/locale/zh_Hant/LC_MESSAGES/django.po",
    DJANGO / "conf/locale/zh_Hant/LC_MESSAGES/django.po",
]
# Not sentences: the yesno filter's default argument is a comma-separated list.
NOT_SENTENCES = {"yes,no,maybe"}


def test_what_the_admin_shows_from_djangos_catalogues_uses_full_width_punctuation():
    found, checked = [], 0
    for path in SHOWN_CATALOGUES:
        for msgid, msgstrs in catalogue_entries(path):
            if msgid in NOT_SENTENCES or len(msgstrs) != 1 or not msgstrs[0]:
                continue  # plural forms: the project uses none of Django's with punctuation
            checked += 1
            with translation.override("zh-hant"):
                shown = translation.gettext(msgid)
            if problems := punctuation_problems(shown):
                found.append(f"{path.parts[-5]}: {msgid!r} → {shown!r}: {', '.join(problems)}")
    assert checked > 500 and found == []
