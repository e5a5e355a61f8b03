import json

from django.core.management.base import BaseCommand, CommandError

from billing import periods, selectors, services
from lbm.exceptions import DomainError


class Command(BaseCommand):
    help = "Issue the month-end invoices of a LINE billing month (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("period", help="The billing month, YYYY-MM (Japan time).")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args, period, format, **options):
        try:
            month = periods.parse_period(period)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        try:
            result = services.bill_month(period=month, triggered_by="manage.py bill_month")
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        data = result.as_dict()
        if format == "json":
            data["invoices"] = selectors.invoices_for_export(period=month)
            self.stdout.write(json.dumps(data, ensure_ascii=False))
        else:
            self.stdout.write(
                "{period}: {invoices_created} invoice(s) issued, {invoices_existing} already "
                "issued, {amount_invoiced} TWD, {seconds} s".format(**data)
            )
