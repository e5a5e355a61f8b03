"""E-mail addresses are normalised before hashing, by one rule everywhere (lbm.pii.clean_email):
docs/organizations.md#personal-data."""

import pytest

from audiences import hashing
from lbm import pii


@pytest.mark.parametrize(
    ("raw", "normalised"),
    [
        ("Chen@Example.COM", "chen@example.com"),
        ("  chen@example.com\t", "chen@example.com"),
        ("\ufeffchen@example.com", "chen@example.com"),  # stray BOM
        ("chen\u200b@exam\u200dple.com", "chen@example.com"),  # zero-width space and joiner
        ("ｃｈｅｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "chen@example.com"),  # full-width, as typed in Chinese
        ("chen\u00ad@example.com", "chen@example.com"),  # soft hyphen
        ("王小明@例子.台灣", "王小明@例子.台灣"),
    ],
)
def test_addresses_are_normalised(raw, normalised):
    assert pii.clean_email(raw) == normalised
    assert pii.email_keyed_hash(raw) == pii.keyed_hash(pii.sha256_hex(normalised))


@pytest.mark.parametrize(
    "raw",
    [
        '=HYPERLINK("x")@example.com',
        "+chen@example.com",
        "-chen@example.com",
        "@chen@example.com",
        "chen\x07@example.com",
        "chen@exa\u202emple.com",  # control, RTL mark
        "chen@example",
        "chen example@example.com",
        "",
        "   ",
        "\u200b",
    ],
)
def test_malformed_addresses_are_refused(raw):
    assert pii.clean_email(raw) is None
    with pytest.raises(pii.InvalidIdentifier):
        pii.normalise_email(raw)


def test_an_upload_normalises_by_the_same_rule_and_finds_duplicates_after_it():
    rower = hashing.Rower("email", b"k" * 32, None)
    plain = hashing.normalise(rower, "chen@example.com")
    assert hashing.normalise(rower, "ＣＨＥＮ＠example.com\u200b") == plain
    assert hashing.normalise(rower, "=chen@example.com") == hashing.BAD_EMAIL
    block = "chen@example.com\nＣｈｅｎ＠example.com\n".encode()
    result = hashing.process_block(block, 1, "email", b"k" * 32, None)
    identifiers = [row.split(b"\t")[0] for row in result["rows"].splitlines()]
    assert len(identifiers) == 2 and identifiers[0] == identifiers[1]  # a duplicate, found later
