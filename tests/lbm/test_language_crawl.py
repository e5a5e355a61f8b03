"""Every page a demo login reaches speaks zh-Hant (docs/language.md): the changelists, add
forms, change and history pages of the first rows, with no library or Django English leaking."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command

from tests.lbm.test_crawl import _urls
from tests.lbm.test_import_export_pages import ENGLISH, visible

pytestmark = pytest.mark.django_db

# Words a page may only show in English when a field lacks a verbose name or a column a
# description: "Display id", "Created at".
UNNAMED = re.compile(r"(?<![A-Za-z])[A-Z][a-z]+ (id|at|by)(?![A-Za-z])")


@pytest.mark.parametrize("username", ["accountmanager", "bear_admin"])
def test_every_page_of_a_demo_login_speaks_zh_hant(client, settings, username):
    settings.LANGUAGE_CODE = "zh-hant"
    call_command("seed_demo", verbosity=0)
    client.force_login(get_user_model().objects.get(username=username))
    found, pages = [], 0
    for url in ["/admin/", *_urls()]:
        response = client.get(url)
        if response.status_code != 200:
            continue
        pages += 1
        text = visible(response.content.decode())
        words = [w for w in ENGLISH if re.search(rf"(?<![A-Za-z]){re.escape(w)}(?![A-Za-z])", text)]
        words += [m.group(0) for m in UNNAMED.finditer(text)]
        if words:
            found.append((url, sorted(set(words))))
    assert pages > 20 and found == []
