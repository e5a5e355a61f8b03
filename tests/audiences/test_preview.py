"""The summary shown before an upload is confirmed: the ID-type guess and the masked samples."""

import pytest

from audiences import preview
from lbm import pii


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\xef\xbb\xbf0912345678\r\n0912-345-679\r\n+886912345670\r\n", "phone"),
        ("Chen@Example.com\nlin@example.com.tw\n", "email"),
        ("U" + "a" * 32 + "\nU" + "b" * 32 + "\n", "user_id"),
        ("1E2F3A4B-0000-4000-8000-000000000001\n", "ifa"),
        ("0912345678\nchen@example.com\n0912345679\n", "phone"),  # most lines decide
        ("hello\nworld\n0912345678\n", None),  # fewer than half: the person chooses
        ("a" * 64 + "\n" + "b" * 64 + "\n", None),  # hashes fit phone and e-mail alike
        ("", None),
    ],
)
def test_id_type_is_guessed_from_the_first_lines(head, expected):
    assert preview.guess_id_type(head) == expected


def test_only_the_first_lines_count():
    head = "0912345678\n" * preview.HEAD_LINES + "chen@example.com\n" * 100
    assert preview.guess_id_type(head) == "phone"


def test_phone_numbers_are_masked_in_national_form():
    assert pii.mask_phone("0912345678") == "0912***678"
    assert pii.mask_phone("+886 912 345 678") == "0912***678"
    assert pii.mask_phone("not a number") == "***"


def test_masked_samples_show_no_whole_value():
    head = "\ufeff0912345678\nxx\n0922333444\n0933555666\n0944777888\n"
    samples = preview.masked_samples(head, "phone")
    assert samples == ["0912***678", "0922***444", "0933***666"]
    emails = preview.masked_samples(" Amy@Example.com \nbob@example.com\n", "email")
    assert emails == ["a***@example.com", "b***@example.com"]
    assert preview.masked_samples("U" + "0123456789abcdef" * 2 + "\n", "user_id") == [
        "U0123***cdef"
    ]
    assert preview.masked_samples("f" * 64 + "\n", "phone") == ["ffff***"]
