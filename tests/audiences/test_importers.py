"""File parsing: every bad-file case, encodings, and the fast phone path against lbm.pii."""

import random

import pytest
from django.db import transaction
from django.utils import timezone

from audiences import importers
from audiences.importers import UploadRejected
from audiences.models import UPLOAD_TYPE_FOR_ID, Audience, AudienceMember
from lbm import pii

pytestmark = pytest.mark.django_db

UID = "U" + "0123456789abcdef" * 2


_OWNER = {}


@pytest.fixture(autouse=True)
def _owner(org):
    """The organization the test audiences belong to (``load`` is a plain function)."""
    _OWNER["org"] = org
    yield
    _OWNER.clear()


def load(source, id_type="phone"):
    """``source`` through the one upload path (``importers.load_ids``, as every upload whatever
    its size) into a new audience: how many IDs, and the stored identifiers, sorted."""
    audience = Audience.objects.create(
        organization=_OWNER["org"],
        name=f"名單 {Audience.objects.count()}",
        type=UPLOAD_TYPE_FOR_ID[id_type],
        id_type=id_type,
        created_at=timezone.now(),
        expires_at=timezone.now() + timezone.timedelta(days=1),
    )
    with transaction.atomic():
        loaded = importers.load_ids(
            source, id_type=id_type, audience_id=audience.pk, new_audience=True
        )
    return loaded.count, sorted(
        AudienceMember.objects.filter(audience_id=audience.pk).values_list("identifier", flat=True)
    )


def parse_bytes(tmp_path, content: bytes, id_type="phone"):
    path = tmp_path / "ids.txt"
    path.write_bytes(content)
    return load(path, id_type)


def test_phones_are_stored_as_keyed_hashes_only(tmp_path):
    count, lines = parse_bytes(tmp_path, b"0912345678\n+886987654321\n")
    assert count == 2
    assert lines == sorted(
        [pii.phone_keyed_hash("0912345678"), pii.phone_keyed_hash("+886987654321")]
    )
    assert all("0912345678" not in line for line in lines)


def test_crlf_bom_and_trailing_blank_lines_are_accepted(tmp_path):
    count, lines = parse_bytes(tmp_path, b"\xef\xbb\xbf0912345678\r\n0912345679\r\n\r\n\n")
    assert count == 2
    assert pii.phone_keyed_hash("0912345678") in lines


def test_malformed_line_rejects_the_whole_file_naming_the_line(tmp_path):
    with pytest.raises(UploadRejected) as exc:
        parse_bytes(tmp_path, b"0912345678\nnot-a-phone\n0912345679\n12\n")
    assert exc.value.bad_count == 2
    assert [n for n, _reason in exc.value.problems] == [2, 4]
    assert "not-a-phone" not in str(exc.value)  # no value is repeated back (personal data)
    assert "Line 2: not a valid phone number" in str(exc.value)


def test_duplicate_rejects_the_whole_file_and_names_both_lines(tmp_path):
    # The same number in two spellings is the same ID once normalised.
    with pytest.raises(UploadRejected) as exc:
        parse_bytes(tmp_path, b"0912345678\n0911111111\n+886912345678\n")
    assert exc.value.problems == [(3, "duplicate of line 1")]
    assert exc.value.bad_count == 1


def test_error_lists_only_the_first_lines_but_counts_all(tmp_path):
    content = b"".join(b"bad%d\n" % i for i in range(25))
    with pytest.raises(UploadRejected) as exc:
        parse_bytes(tmp_path, content)
    assert len(exc.value.problems) == importers.MAX_REPORTED
    assert exc.value.bad_count == 25
    assert "25 lines" in exc.value.message


def test_file_over_the_limit_is_rejected(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "MAX_IDS", 3)
    with pytest.raises(UploadRejected) as exc:
        parse_bytes(tmp_path, b"0912345671\n0912345672\n0912345673\n0912345674\n")
    assert "4 IDs" in exc.value.message and "at most 3" in exc.value.message


def test_file_at_the_limit_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "MAX_IDS", 3)
    count, _lines = parse_bytes(tmp_path, b"0912345671\n0912345672\n0912345673\n")
    assert count == 3


@pytest.mark.parametrize("content", [b"", b"\n\n\r\n", b"\xef\xbb\xbf"])
def test_empty_file_is_rejected(tmp_path, content):
    with pytest.raises(UploadRejected, match="contains no IDs"):
        parse_bytes(tmp_path, content)


@pytest.mark.parametrize(
    "content", ["0912345678\n電話\n".encode("big5"), "0912345678\n".encode("utf-16")]
)
def test_wrong_encoding_is_rejected(tmp_path, content):
    with pytest.raises(UploadRejected, match="not UTF-8"):
        parse_bytes(tmp_path, content)


def test_blank_line_in_the_middle_is_malformed(tmp_path):
    with pytest.raises(UploadRejected) as exc:
        parse_bytes(tmp_path, b"0912345678\n\n0912345679\n")
    assert exc.value.problems == [(2, "empty line")]


def test_user_ids_are_kept_as_given_and_checked(tmp_path):
    count, lines = parse_bytes(tmp_path, f"{UID}\n".encode(), id_type="user_id")
    assert lines == [UID]
    with pytest.raises(UploadRejected):
        parse_bytes(tmp_path, f"{UID.upper()}\nU123\n".encode(), id_type="user_id")


def test_ifas_are_lower_cased(tmp_path):
    ifa = "6F8C3A2E-1B4D-4C5E-9A7F-0123456789AB"
    _count, lines = parse_bytes(tmp_path, f"{ifa}\n".encode(), id_type="ifa")
    assert lines == [ifa.lower()]
    with pytest.raises(UploadRejected):
        parse_bytes(tmp_path, b"6F8C3A2E-1B4D-4C5E-9A7F\n", id_type="ifa")


def test_emails_are_trimmed_lower_cased_and_hashed(tmp_path):
    _count, lines = parse_bytes(
        tmp_path, b'  Chen@Example.COM \n"li@example.com"\n', id_type="email"
    )
    assert lines == sorted(
        [pii.email_keyed_hash("chen@example.com"), pii.email_keyed_hash("li@example.com")]
    )
    with pytest.raises(UploadRejected):
        parse_bytes(tmp_path, b"chen@\n", id_type="email")


def test_a_line_style_sha256_matches_the_same_phone(tmp_path):
    line_hash = pii.sha256_hex("+886912345678")
    _count, lines = parse_bytes(tmp_path, f"{line_hash}\n".encode())
    assert lines == [pii.phone_keyed_hash("0912345678")]


def test_iterable_of_strings_is_accepted_for_the_api():
    count, lines = load(["0912345678", "0912345679"])
    assert count == 2 == len(lines)


def test_fast_phone_path_agrees_with_lbm_pii():
    rng = random.Random(7)
    samples = [
        "0912345678",
        "+886912345678",
        "886912345678",
        "0990123456",
        "0912-345-678",
        "+8860912345678",
        "02-2720-1234",
        "+81 90 1234 5678",
        "0900000000",
        "0989999999",
    ]
    for prefix in range(90, 100):
        for _ in range(20):
            n = rng.randrange(10_000_000)
            samples += [f"0{prefix}{n:07d}", f"+886{prefix}{n:07d}", f"886{prefix}{n:07d}"]
    for value in samples:
        assert importers.phone_e164(value) == pii.normalise_phone(value), value
        assert importers.stored_identifier("phone", value) == pii.phone_keyed_hash(value), value
    for bad in ["0912", "091234567890", "+88691234567", "phone"]:
        with pytest.raises(importers.Malformed):
            importers.phone_e164(bad)
        with pytest.raises(pii.InvalidIdentifier):
            pii.normalise_phone(bad)


def test_keyed_hash_follows_the_configured_key(settings):
    settings.PII_HASH_KEY = "another-key"
    assert importers.stored_identifier("phone", "0912345678") == pii.phone_keyed_hash("0912345678")
