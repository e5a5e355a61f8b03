"""Rights per role, in the services and in the admin (foreign objects are a 404)."""

import pytest
from django.contrib.messages import get_messages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from audiences import services
from audiences.exceptions import SharingRefused  # noqa: F401
from audiences.models import Audience, AudienceShare, AudienceUpload
from lbm import pii
from lbm.exceptions import NotAllowed
from lbm.models import Organization
from tests import factories
from tests.audiences import factories as af

pytestmark = pytest.mark.django_db


@pytest.fixture
def audience(org, admin_user):
    Organization.objects.filter(pk=org.pk).update(share_mode="share_selected")
    return af.upload_audience(org, admin_user, af.phones(120), name="會員")


@pytest.mark.parametrize("role", ["admin", "operator", "operator_data"])
def test_roles_that_may_create_audiences(org, role):
    user = (
        org.memberships.get(role="admin").user if role == "admin" else factories.member(org, role)
    )
    assert af.upload_audience(org, user, af.phones(3)).status == "ready"


def test_viewer_cannot_create_audiences(org):
    viewer = factories.member(org, "viewer")
    with pytest.raises(NotAllowed):
        af.upload_audience(org, viewer, af.phones(3))
    assert not Audience.objects.exists()


@pytest.mark.parametrize("role", ["operator_data", "viewer"])
def test_operator_data_only_and_viewer_cannot_share(org, oa, audience, role):
    user = factories.member(org, role)
    with pytest.raises(NotAllowed):
        services.audience_share(actor=user, audience_id=audience.pk, account_ids=[oa.pk])
    assert not AudienceShare.objects.exists()


def test_operator_can_share_and_unshare(org, oa, audience):
    operator = factories.member(org, "operator")
    services.audience_share(actor=operator, audience_id=audience.pk, account_ids=[oa.pk])
    services.audience_unshare(actor=operator, audience_id=audience.pk, account_id=oa.pk)
    assert not AudienceShare.objects.exists()


def test_member_of_another_organization_cannot_touch_the_audience(audience):
    other = factories.organization(state="approved", name="別家")
    outsider = other.memberships.get(role="admin").user
    with pytest.raises(NotAllowed):
        services.audience_add_ids(actor=outsider, audience_id=audience.pk, ids=af.phones(1, 500))
    with pytest.raises(NotAllowed):
        services.audience_export(actor=outsider, audience_id=audience.pk)


@pytest.mark.parametrize("role", ["operator", "operator_data", "viewer"])
def test_only_admins_export(org, audience, role):
    user = factories.member(org, role)
    with pytest.raises(NotAllowed):
        services.audience_export(actor=user, audience_id=audience.pk)


# --- Admin ------------------------------------------------------------------------------------


def _login(client, user):
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_audience_of_another_organization_is_a_404_in_the_admin(client, audience):
    other = factories.organization(state="approved", name="別家")
    _login(client, other.memberships.get(role="admin").user)
    url = reverse("admin:audiences_audience_change", args=[audience.pk])
    assert client.get(url).status_code == 404
    changelist = client.get(reverse("admin:audiences_audience_changelist"))
    assert changelist.status_code == 200 and "會員" not in changelist.content.decode()


def test_viewer_sees_audiences_but_no_upload(client, org, audience):
    _login(client, factories.member(org, "viewer"))
    response = client.get(reverse("admin:audiences_audience_changelist"))
    assert response.status_code == 200 and "會員" in response.content.decode()
    assert client.get(reverse("admin:audiences_audience_import")).status_code == 403


def test_changelist_query_count_does_not_grow_with_rows(client, org, admin_user):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    url = reverse("admin:audiences_audience_changelist")
    _login(client, admin_user)
    counts = []
    for batch in (range(0, 2), range(2, 10)):
        for i in batch:
            af.upload_audience(org, admin_user, af.phones(2, start=10 * i))
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert not any(
        "COUNT(*)" in q["sql"] and "audiences_audiencemember" in q["sql"]
        for q in queries.captured_queries
    )


def _upload(client, data, content, name="ids.txt"):
    return client.post(
        reverse("admin:audiences_audience_import"),
        {**data, "import_file": SimpleUploadedFile(name, content)},
    )


def test_upload_shows_a_summary_with_masked_samples_then_imports_on_confirm(
    client, org, admin_user, django_capture_on_commit_callbacks
):
    _login(client, factories.member(org, "operator_data"))
    content = "".join(f"{p}\n" for p in af.phones(20)).encode("utf-8-sig")
    with django_capture_on_commit_callbacks(execute=True):
        response = _upload(
            client,
            {"mode": "new", "organization": org.pk, "name": "預覽上傳", "id_type": ""},
            content,
        )
    upload = AudienceUpload.objects.get()
    progress = reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
    assert response.status_code == 302 and response["Location"] == progress
    assert (upload.status, upload.id_type, upload.id_type_guessed) == ("awaiting", "phone", True)
    assert not Audience.objects.filter(name="預覽上傳").exists()  # nothing stored yet
    page = client.get(progress).content.decode()
    assert 'id="summary-count">20<' in page and 'id="summary-new">20<' in page
    assert 'id="summary-existing">0<' in page
    assert pii.mask_phone(af.phone(0)) in page  # 0912***…
    assert af.phone(0) not in page and pii.phone_keyed_hash(af.phone(0)) not in page
    with django_capture_on_commit_callbacks(execute=True):
        client.post(
            reverse("admin:audiences_audienceupload_confirm", args=[upload.pk]),
            {"decision": "confirm"},
        )
    audience = Audience.objects.get(name="預覽上傳")
    assert audience.size == 20 and audience.status == "ready"
    upload.refresh_from_db()
    assert upload.status == "done" and not upload.file


def test_an_addition_counts_the_ids_the_audience_already_has(
    client, org, admin_user, audience, django_capture_on_commit_callbacks
):
    _login(client, admin_user)
    content = "".join(f"{p}\n" for p in af.phones(130)).encode()  # 120 known, 10 new
    with django_capture_on_commit_callbacks(execute=True):
        _upload(client, {"mode": "add", "audience": audience.pk}, content)
    upload = AudienceUpload.objects.get()
    assert (upload.status, upload.id_count, upload.added_count) == ("awaiting", 130, 10)
    page = client.get(
        reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
    ).content.decode()
    assert 'id="summary-new">10<' in page and 'id="summary-existing">120<' in page
    assert audience.members.count() == 120  # the check stored nothing


def test_an_unconfirmed_upload_is_not_imported_and_a_cancel_removes_its_file(
    client, org, admin_user, django_capture_on_commit_callbacks
):
    _login(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(
            client,
            {"mode": "new", "organization": org.pk, "name": "不要", "id_type": "phone"},
            b"0912345678\n",
        )
    upload = AudienceUpload.objects.get()
    assert services.upload_process(upload_id=upload.pk).status == "awaiting"
    assert not Audience.objects.filter(name="不要").exists()
    response = client.post(
        reverse("admin:audiences_audienceupload_confirm", args=[upload.pk]), {"decision": "cancel"}
    )
    assert response["Location"].startswith(reverse("admin:audiences_audience_import"))
    upload.refresh_from_db()
    assert upload.status == "failed" and not upload.file
    with pytest.raises(services.AudienceError):
        services.upload_confirm(upload_id=upload.pk, actor=admin_user)


def test_a_refused_file_names_its_lines_and_offers_to_upload_again(
    client, org, admin_user, django_capture_on_commit_callbacks
):
    _login(client, admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        _upload(
            client,
            {"mode": "new", "organization": org.pk, "name": "壞", "id_type": "phone"},
            b"0912345678\nxx\n0912345678\n",
        )
    upload = AudienceUpload.objects.get()
    page = client.get(
        reverse("admin:audiences_audienceupload_progress", args=[upload.pk])
    ).content.decode()
    assert "<li>Line 2: not a valid phone number</li>" in page
    assert "<li>Line 3: duplicate of line 1</li>" in page
    assert 'id="upload-again-link"' in page and "name=%E5%A3%9E" in page  # 壞, prefilled
    assert "You may leave this page" not in page
    assert not Audience.objects.filter(name="壞").exists()


def test_an_unguessable_file_asks_for_the_id_type(client, org, admin_user):
    _login(client, admin_user)
    response = _upload(
        client,
        {"mode": "new", "organization": org.pk, "name": "猜不到", "id_type": ""},
        b"hello\nworld\n",
    )
    assert response.status_code == 200
    assert "choose the ID type" in str(response.context["form"].errors["id_type"])
    assert not AudienceUpload.objects.exists()


def test_the_only_organization_is_preselected_and_the_viewer_is_told_why(client, org):
    viewer = factories.member(org, "viewer")
    operator = factories.member(org, "operator")
    _login(client, operator)
    form = client.get(reverse("admin:audiences_audience_import")).context["form"]
    assert form["organization"].value() == org.pk
    _login(client, viewer)
    response = client.get(reverse("admin:audiences_audience_import"))
    assert response.status_code == 403
    assert "User (view only)" in response.content.decode()
    listing = client.get(reverse("admin:audiences_audience_changelist")).content.decode()
    assert 'id="lbm-upload-refusal"' in listing and 'id="lbm-upload-link"' not in listing


def test_large_file_goes_to_the_background_with_a_progress_page(
    client, org, admin_user, django_capture_on_commit_callbacks
):
    _login(client, admin_user)
    content = "".join(f"{p}\n" for p in af.phones(30)).encode()
    with django_capture_on_commit_callbacks(execute=True):
        _upload(
            client,
            {"mode": "new", "organization": org.pk, "name": "大檔", "id_type": "phone"},
            content,
            name="big.txt",
        )
    upload = AudienceUpload.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        services.upload_confirm(upload_id=upload.pk, actor=admin_user)
    status = client.get(reverse("admin:audiences_audienceupload_status", args=[upload.pk])).json()
    assert status["status"] == "done" and status["progress"] == 100 and status["id_count"] == 30
    other = factories.organization(state="approved", name="別家")
    _login(client, other.memberships.get(role="admin").user)
    assert (
        client.get(reverse("admin:audiences_audienceupload_status", args=[upload.pk])).status_code
        == 404
    )


def test_member_search_matches_a_phone_number_by_its_hash(client, org, admin_user, audience):
    _login(client, admin_user)
    url = reverse("admin:audiences_audiencemember_changelist")
    response = client.get(url, {"q": "0912-345-678"})
    assert response.status_code == 200
    assert response.context["cl"].result_count == 0
    response = client.get(url, {"q": af.phone(7)})
    assert response.context["cl"].result_count == 1
    assert pii.phone_keyed_hash(af.phone(7)) in response.content.decode()


def test_export_action_is_for_admins_only(client, org, admin_user, audience):
    url = reverse("admin:audiences_audience_changelist")
    data = {"action": "export_members", "_selected_action": [audience.pk]}
    _login(client, factories.member(org, "operator"))
    response = client.post(url, data)
    # The action is not offered to an operator: Django's "no action" answer, nothing exported.
    assert response.status_code == 302 and not hasattr(response, "streaming_content")
    assert _messages(response) == ["No action selected."]
    _login(client, admin_user)
    response = client.post(url, data)
    body = b"".join(response.streaming_content).decode()
    assert sorted(body.split()) == sorted(
        pii.sha256_hex(pii.normalise_phone(p)) for p in af.phones(120)
    )
    assert response["X-Audience-Members-Left-Out"] == "0"
    record = audience.history.first()
    assert record.history_change_reason == "Members exported as LINE-style hashes (120)"
    assert record.history_user == admin_user


def test_share_action_refuses_operator_data_only(client, org, oa, audience):
    _login(client, factories.member(org, "operator_data"))
    response = client.post(
        reverse("admin:audiences_audience_changelist"),
        {
            "action": "share",
            "_selected_action": [audience.pk],
            "confirm": "yes",
            "accounts": [oa.pk],
        },
    )
    assert not AudienceShare.objects.exists()
    assert response.status_code == 302  # the action is not offered to them
    assert _messages(response) == ["No action selected."]


def test_share_action_shares_for_an_operator(client, org, oa, audience):
    _login(client, factories.member(org, "operator"))
    response = client.post(
        reverse("admin:audiences_audience_changelist"),
        {
            "action": "share",
            "_selected_action": [audience.pk],
            "confirm": "yes",
            "accounts": [oa.pk],
        },
    )
    assert response.status_code == 302
    assert AudienceShare.objects.filter(audience=audience, account=oa).exists()
