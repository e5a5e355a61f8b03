from django.core.management.base import BaseCommand, CommandError

from lbm import channels, services
from lbm.exceptions import DomainError


class Command(BaseCommand):
    help = "Issue a channel access token for an Official Account (by basic or premium ID)."

    def add_arguments(self, parser):
        parser.add_argument("account_id", help="basic ID (@abc1234d) or premium ID")
        parser.add_argument("--label", default="", help="what the token is for")

    def handle(self, *args, account_id, label, **options):
        try:
            account = services.find_account(account_id)
            _row, token = channels.token_issue(account=account, label=label)
        except DomainError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(token)
