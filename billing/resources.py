"""django-import-export resources: exports only (codes and invoices are made by services)."""

from import_export import fields, resources

from .models import Invoice, PromotionCode


class PromotionCodeResource(resources.ModelResource):
    class Meta:
        model = PromotionCode
        fields = (
            "code",
            "face_value",
            "valid_from",
            "valid_until",
            "status",
            "deducted",
            "forfeited",
            "redeemed_at",
        )
        export_order = fields


class InvoiceResource(resources.ModelResource):
    customer = fields.Field(attribute="customer__name", column_name="customer")
    business_number = fields.Field(
        attribute="customer__business_number", column_name="business_number"
    )

    class Meta:
        model = Invoice
        fields = (
            "number",
            "customer",
            "business_number",
            "period",
            "issued_at",
            "untaxed",
            "tax",
            "tax_included",
            "rounding",
            "total",
        )
        export_order = fields
