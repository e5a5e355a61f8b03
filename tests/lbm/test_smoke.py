import pytest

from tests import factories


@pytest.mark.django_db
def test_factories_build_an_approved_organization_with_a_linked_account():
    org = factories.organization(state="approved")
    link = factories.linked(org)
    assert org.status == "approved"
    assert link.status == "approved"
