"""Export as LINE-style hashes: the sealed copy of each phone/e-mail member's SHA-256."""

import hashlib

import pytest

from audiences import hashing, importers, services
from audiences.exceptions import AudienceError
from audiences.models import AudienceMember
from lbm import pii
from lbm.exceptions import NotAllowed
from tests import factories
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db


def _export(actor, audience):
    export = services.audience_export(actor=actor, audience_id=audience.pk)
    return export, "".join(export.lines).split()


def test_exported_hash_is_the_sha256_of_the_e164_number(org, admin_user):
    audience = af.upload_audience(
        org, admin_user, ["0912-345-678", "+886987654321", "886911111111"]
    )
    _export_obj, lines = _export(admin_user, audience)
    expected = {
        hashlib.sha256(e164.encode()).hexdigest()
        for e164 in ["+886912345678", "+886987654321", "+886911111111"]
    }
    assert set(lines) == expected


def test_e_mail_export_is_the_sha256_of_the_normalised_address(org, admin_user):
    audience = af.upload_audience(org, admin_user, ["  Chen@Example.COM "], id_type="email")
    _export_obj, lines = _export(admin_user, audience)
    assert lines == [hashlib.sha256(b"chen@example.com").hexdigest()]


def test_an_uploaded_line_style_hash_is_exported_unchanged(org, admin_user):
    line_hash = pii.sha256_hex("+886912345678")
    audience = af.upload_audience(org, admin_user, [line_hash.upper()])
    assert _export(admin_user, audience)[1] == [line_hash]


def test_stored_row_holds_neither_the_number_nor_its_plain_sha256(org, admin_user):
    audience = af.upload_audience(org, admin_user, ["0912345678"])
    member = AudienceMember.objects.get(audience=audience)
    plain = hashlib.sha256(b"+886912345678").digest()
    sealed = bytes(member.sealed)
    assert len(sealed) == 48
    assert sealed != plain and plain.hex() not in member.identifier
    assert "912345678" not in member.identifier
    assert member.identifier == pii.phone_keyed_hash("0912345678")
    for value in (plain, plain.hex().encode(), b"912345678", b"+886912345678"):
        assert value not in sealed + member.identifier.encode()


def test_a_different_pii_hash_key_cannot_open_the_sealed_copy(org, admin_user, settings):
    audience = af.upload_audience(org, admin_user, af.phones(3))
    member = AudienceMember.objects.filter(audience=audience).first()
    phone = next(p for p in af.phones(3) if pii.phone_keyed_hash(p) == member.identifier)
    # Under the key it was sealed with, the copy opens to the number's LINE-style hash.
    assert importers.open_sealed(member.identifier, member.sealed) == pii.sha256_hex(
        pii.normalise_phone(phone)
    )
    settings.PII_HASH_KEY = "someone-elses-key"
    assert importers.open_sealed(member.identifier, member.sealed) is None
    with pytest.raises(AudienceError, match="cannot be opened with the current key"):
        services.audience_export(actor=admin_user, audience_id=audience.pk)


def test_a_tampered_sealed_copy_does_not_open(org, admin_user):
    audience = af.upload_audience(org, admin_user, af.phones(1))
    member = AudienceMember.objects.get(audience=audience)
    tampered = bytes([member.sealed[0] ^ 1]) + bytes(member.sealed)[1:]
    assert importers.open_sealed(member.identifier, tampered) is None


def test_sealing_is_the_documented_construction(settings):
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.ciphers.aead import AESSIV
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    key = settings.PII_HASH_KEY.encode()
    k_seal = hashing.seal_key(key)
    assert k_seal == HKDF(
        algorithm=hashes.SHA256(), length=64, salt=None, info=b"lbm/audiences/sealed-line-hash/v2"
    ).derive(key)
    identifier, sealed_hex = importers.stored_row("phone", "0912345678")
    digest = hashlib.sha256(b"+886912345678").digest()
    assert bytes.fromhex(sealed_hex) == AESSIV(k_seal).encrypt(digest, None)
    # The fast path of a whole block of numbers writes the same row.
    rows = hashing.process_block(b"0912345678\n", 1, "phone", key, k_seal)["rows"]
    assert rows == f"{identifier}\t\\\\x{sealed_hex}\t1\n".encode()


def test_a_copy_sealed_before_aes_siv_still_opens(org, admin_user, settings):
    """32-byte copies written before AES-SIV (SHA-256 XOR an HMAC pad) are read as before."""
    import hmac

    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    audience = af.upload_audience(org, admin_user, ["0912345678", "0987654321"])
    key = settings.PII_HASH_KEY.encode()
    k_v1 = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"lbm/audiences/sealed-line-hash/v1"
    ).derive(key)
    member = AudienceMember.objects.get(
        audience=audience, identifier=pii.phone_keyed_hash("0912345678")
    )
    digest = hashlib.sha256(b"+886912345678").digest()
    pad = hmac.new(k_v1, bytes.fromhex(member.identifier), hashlib.sha256).digest()
    AudienceMember.objects.filter(pk=member.pk).update(
        sealed=bytes(a ^ b for a, b in zip(digest, pad, strict=True))
    )
    member.refresh_from_db()
    assert len(bytes(member.sealed)) == 32
    assert importers.open_sealed(member.identifier, member.sealed) == digest.hex()
    tampered = bytes([member.sealed[0] ^ 1]) + bytes(member.sealed)[1:]
    assert importers.open_sealed(member.identifier, tampered) is None
    export, lines = _export(admin_user, audience)
    assert export.left_out == 0
    assert sorted(lines) == sorted(
        hashlib.sha256(e.encode()).hexdigest() for e in ["+886912345678", "+886987654321"]
    )


def test_a_sealed_copy_moved_to_another_row_does_not_open(org, admin_user):
    audience = af.upload_audience(org, admin_user, af.phones(2))
    first, second = AudienceMember.objects.filter(audience=audience)
    assert importers.open_sealed(first.identifier, second.sealed) is None


def test_members_without_a_sealed_copy_are_left_out_and_counted(org, admin_user):
    audience = af.upload_audience(org, admin_user, af.phones(5))
    old = AudienceMember.objects.filter(audience=audience).order_by("identifier")[:2]
    AudienceMember.objects.filter(pk__in=[m.pk for m in old]).update(sealed=None)
    export, lines = _export(admin_user, audience)
    assert export.left_out == 2 and len(lines) == 3
    assert audience.history.first().history_change_reason == (
        "Members exported as LINE-style hashes (3; 2 stored before sealed copies existed left out)"
    )
    # Uploading the same numbers again as an addition fills their sealed copies in.
    assert (
        services.audience_add_ids(actor=admin_user, audience_id=audience.pk, ids=af.phones(5)) == 0
    )
    export, lines = _export(admin_user, audience)
    assert export.left_out == 0 and len(lines) == 5


def test_user_id_and_ifa_audiences_export_as_stored(org, admin_user, oa):
    ifa = "6F8C3A2E-1B4D-4C5E-9A7F-0123456789AB"
    audience = af.upload_audience(org, admin_user, [ifa], id_type="ifa")
    assert _export(admin_user, audience)[1] == [ifa.lower()]
    assert AudienceMember.objects.get(audience=audience).sealed is None


@pytest.mark.parametrize("role", ["operator", "operator_data", "viewer"])
def test_only_admins_may_export(org, admin_user, role):
    audience = af.upload_audience(org, admin_user, af.phones(3))
    with pytest.raises(NotAllowed):
        services.audience_export(actor=factories.member(org, role), audience_id=audience.pk)
    assert audience.history.count() == 2  # created, uploaded: no export recorded
