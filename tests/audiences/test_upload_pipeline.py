"""The upload path (``importers.load_ids``): blocks hashed in worker processes, streamed into a
staging table, checked whole before any member is stored."""

import pytest

from audiences import importers
from audiences.exceptions import UploadRejected
from audiences.models import Audience, AudienceMember
from lbm import pii
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db


def _file(tmp_path, lines, ending="\n"):
    path = tmp_path / "ids.txt"
    path.write_bytes(("\ufeff" + ending.join(lines) + ending).encode())
    return path


def test_workers_hash_every_block_in_file_order(parallel, tmp_path, org, admin_user, monkeypatch):
    from concurrent import futures

    used = []

    class Spy(futures.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            used.append(kwargs["max_workers"])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(futures, "ProcessPoolExecutor", Spy)
    numbers = af.phones(300)
    audience = af.upload_audience(org, admin_user, _file(tmp_path, numbers, "\r\n"))
    assert audience.size == 300
    stored = set(
        AudienceMember.objects.filter(audience=audience).values_list("identifier", flat=True)
    )
    assert stored == {pii.phone_keyed_hash(n) for n in numbers}
    assert used == [2]  # hashed in two worker processes


def test_duplicate_in_another_block_is_found_with_both_line_numbers(
    parallel, tmp_path, org, admin_user
):
    numbers = af.phones(200) + ["+886" + af.phone(3)[1:]]  # line 201 repeats line 4
    with pytest.raises(UploadRejected) as exc:
        af.upload_audience(org, admin_user, _file(tmp_path, numbers), name="重複")
    assert exc.value.problems == [(201, "duplicate of line 4")]
    assert exc.value.bad_count == 1
    assert not Audience.objects.filter(name="重複").exists()
    assert not AudienceMember.objects.exists()


def test_bad_lines_in_several_blocks_are_all_counted(parallel, tmp_path, org, admin_user):
    numbers = af.phones(200)
    for line in (10, 90, 150):
        numbers[line - 1] = "oops"
    numbers[180] = numbers[0]
    with pytest.raises(UploadRejected) as exc:
        af.upload_audience(org, admin_user, _file(tmp_path, numbers))
    assert exc.value.problems == [
        (10, "not a valid phone number"),
        (90, "not a valid phone number"),
        (150, "not a valid phone number"),
        (181, "duplicate of line 1"),
    ]
    assert exc.value.bad_count == 4
    assert not AudienceMember.objects.exists()


def test_blank_lines_across_block_boundaries(parallel, tmp_path, org, admin_user):
    numbers = af.phones(40) + [""] * 12 + af.phones(40, start=100) + [""] * 30
    with pytest.raises(UploadRejected) as exc:
        af.upload_audience(org, admin_user, _file(tmp_path, numbers))
    assert exc.value.bad_count == 12
    assert [n for n, _r in exc.value.problems] == list(range(41, 51))
    # Blank lines at the end only are ignored.
    audience = af.upload_audience(org, admin_user, _file(tmp_path, af.phones(80) + [""] * 30))
    assert audience.size == 80


def test_over_the_limit_in_workers(parallel, tmp_path, org, admin_user, monkeypatch):
    monkeypatch.setattr(importers, "MAX_IDS", 50)
    with pytest.raises(UploadRejected, match="60 IDs"):
        af.upload_audience(org, admin_user, _file(tmp_path, af.phones(60)))
    assert not AudienceMember.objects.exists()


def test_addition_with_an_id_repeated_inside_the_file_is_refused(
    parallel, tmp_path, org, admin_user
):
    from audiences import services

    audience = af.upload_audience(org, admin_user, af.phones(10))
    numbers = af.phones(100, start=50) + [af.phone(60)]
    with pytest.raises(UploadRejected, match="duplicated"):
        services.audience_add_ids(
            actor=admin_user, audience_id=audience.pk, ids=_file(tmp_path, numbers)
        )
    audience.refresh_from_db()
    assert audience.size == 10 == AudienceMember.objects.filter(audience=audience).count()


def test_mixed_forms_fall_back_to_the_full_parser(parallel, tmp_path, org, admin_user):
    numbers = ["0912-345-678", '"0912345679"', "+886 912 345 670"] + af.phones(100, start=10)
    audience = af.upload_audience(org, admin_user, _file(tmp_path, numbers))
    assert audience.size == 103
    assert AudienceMember.objects.filter(
        audience=audience, identifier=pii.phone_keyed_hash("0912345678")
    ).exists()
