"""django-import-export pieces for the small-file preview/confirm flow.

The import form validates and normalises the whole file before import-export sees it (see
``audiences.forms``), so what import-export keeps between preview and confirm is the stored
form of each ID (keyed hashes for phone numbers and e-mail addresses, with their sealed
LINE-style hash in hex), never the raw file.
"""

import tablib
from django.utils.translation import gettext_lazy as _
from import_export import fields, resources, widgets
from import_export.formats.base_formats import Format
from import_export.instance_loaders import CachedInstanceLoader

from .models import AudienceMember


class IdListFormat(Format):
    """A TXT or CSV file with one ID per line and no header. After the import form has
    normalised it, a line is ``identifier TAB sealed-hex`` (see ``AudienceImportForm.clean``).
    """

    def __init__(self, encoding=None):
        self.encoding = encoding

    def get_title(self):
        return _("TXT / CSV (one ID per line)")

    def create_dataset(self, in_stream):
        if isinstance(in_stream, bytes):
            in_stream = in_stream.decode("utf-8-sig")
        dataset = tablib.Dataset(headers=["identifier", "sealed"])
        for line in in_stream.splitlines():
            if line.strip():
                identifier, _tab, sealed = line.strip().partition("\t")
                dataset.append([identifier, sealed])
        return dataset

    def is_binary(self):
        return True

    def get_read_mode(self):
        return "rb"

    def get_extension(self):
        return "txt"

    def get_content_type(self):
        return "text/plain"

    def can_import(self):
        return True


class SealedWidget(widgets.Widget):
    """The sealed copy travels as hex (empty for user IDs and IFAs)."""

    def clean(self, value, row=None, **kwargs):
        return bytes.fromhex(value) if value else None

    def render(self, value, obj=None, **kwargs):
        return bytes(value).hex() if value else ""


class AudienceMemberResource(resources.ModelResource):
    """Rows are already-normalised identifiers. ``plan`` says where they go; the audience is
    created (new) or locked (addition) through the services, inside import-export's transaction,
    so the dry run of the preview leaves nothing behind."""

    sealed = fields.Field(attribute="sealed", column_name="sealed", widget=SealedWidget())

    class Meta:
        model = AudienceMember
        fields = ("identifier", "sealed")
        import_id_fields = ("identifier",)
        skip_unchanged = True
        report_skipped = True
        use_transactions = True
        use_bulk = True
        batch_size = 5000
        instance_loader_class = CachedInstanceLoader

    def __init__(self, plan: dict | None = None, **kwargs):
        super().__init__(**kwargs)
        self.plan = plan or {}
        self.audience = None

    def get_queryset(self):
        audience_id = self.audience.pk if self.audience else self.plan.get("audience_id")
        return AudienceMember.objects.filter(audience_id=audience_id or 0)

    def before_import(self, dataset, **kwargs):
        from . import services

        self.audience = services.audience_import_begin(**self.plan)

    def init_instance(self, row=None):
        return AudienceMember(audience=self.audience)

    def after_import(self, dataset, result, **kwargs):
        from . import services

        added = result.totals.get("new", 0)
        services.audience_import_finish(audience_id=self.audience.pk,
                                        actor=self.plan.get("actor"), added=added)
