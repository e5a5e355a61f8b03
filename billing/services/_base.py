"""What every billing service shares: the permission check and the history recorder."""

from lbm import permissions
from lbm.audit import record_change


def _require(actor, codename: str) -> None:
    """Staff-global billing rights (held by the LINE account managers group)."""
    permissions.require_staff(actor, f"billing.{codename}")


_record = record_change  # lbm.audit: who and why for the history row
