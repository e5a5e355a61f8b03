"""Signals the lbm app sends to the apps that act on account links (receivers connected in
their ``AppConfig.ready``), as billing sends ``before_billing``.

Both are sent with ``sender=AccountLink`` and the keyword ``link_id``, inside the transaction
that changed the link (docs/organizations.md#link-lifecycle): a receiver queues its work
through ``lbm.outbox``, so nothing runs for a change that is rolled back and nothing is lost if the
broker is down at commit. A receiver's exception rolls the change back (``send``, not
``send_robust``).
"""

from django.dispatch import Signal

# A link was approved (the audiences app brings the account's audiences into the organization).
link_approved = Signal()

# An approved link ended: unlinked, or its organization deleted (the audiences app detaches the
# account). A cancelled request, never approved, sends nothing.
link_ended = Signal()
