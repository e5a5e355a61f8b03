"""Signals the audiences app sends (receivers in ``audiences.receivers``, connected in
``AudiencesConfig.ready``), as billing sends ``before_billing``.

``resource_created`` is sent (keyword ``instance``; sender the model class: ``Audience`` or
``LineTag``) when an organization resource is created, inside the transaction that creates it:
each linked account set to share all receives it (docs/audiences.md#sharing-per-linked-account).
"""

from django.dispatch import Signal

resource_created = Signal()
