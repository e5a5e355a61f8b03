"""Signals billing sends to the apps whose usage it bills."""

from django.dispatch import Signal

# Sent by ``bill_month`` before it reads the usage ledger (keyword ``period``): an app that
# writes its usage rows late (notifications charges delivered pushes in batches) records what
# it still owes first.
before_billing = Signal()
