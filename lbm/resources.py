"""django-import-export resources: account managers load LINE's account records in bulk."""

from import_export import fields, resources, widgets

from .models import Account, Provider


class ProviderResource(resources.ModelResource):
    class Meta:
        model = Provider
        fields = ("id", "name", "business_number", "certified")
        clean_model_instances = True


class AccountResource(resources.ModelResource):
    provider = fields.Field(
        attribute="provider",
        column_name="provider",
        widget=widgets.ForeignKeyWidget(Provider, field="name"),
    )

    class Meta:
        model = Account
        fields = (
            "id",
            "kind",
            "name",
            "basic_id",
            "premium_id",
            "external_id",
            "badge",
            "verified",
            "business_number",
            "provider",
        )
        clean_model_instances = True  # the same format and checksum rules as the forms
