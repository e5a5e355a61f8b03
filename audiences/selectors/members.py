"""An audience's members: streamed as stored or as LINE exchanges them (opened from their sealed
copies), and the checks an export page shows first."""

import logging
from collections.abc import Iterator

from django.db import connection

from ..models import Audience, AudienceMember, IdType

logger = logging.getLogger("audiences.selectors")  # one logger for the package, as before


def member_lines(audience: Audience, *, chunk: int = 20_000) -> Iterator[str]:
    """Every member identifier as stored, one line each, streamed in keyset-paginated chunks so
    that an export of millions of rows holds one chunk in memory."""
    for rows in _member_chunks(audience, chunk=chunk, sealed=False):
        yield "".join(f"{identifier}\n" for (identifier,) in rows)


def _member_chunks(audience: Audience, *, chunk: int, sealed: bool):
    fields = ("identifier", "sealed") if sealed else ("identifier",)
    last = ""
    while True:
        rows = list(
            AudienceMember.objects.filter(audience_id=audience.pk, identifier__gt=last)
            .order_by("identifier")
            .values_list(*fields)[:chunk]
        )
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def members_without_sealed_copy(audience: Audience) -> int:
    """Phone/e-mail members stored before sealed copies existed (none for other ID types)."""
    if audience.id_type not in (IdType.PHONE, IdType.EMAIL):
        return 0
    return AudienceMember.objects.filter(audience_id=audience.pk, sealed__isnull=True).count()


def export_lines(audience: Audience, *, chunk: int = 20_000) -> Iterator[str]:
    """The members as LINE exchanges them: lower-case hex SHA-256 for phone numbers and e-mail
    addresses (opened from their sealed copies), user IDs and IFAs as stored. Members without
    a sealed copy, or whose copy does not open under the current key, are left out (see
    ``members_without_sealed_copy``)."""
    from ..importers import open_sealed

    if audience.id_type not in (IdType.PHONE, IdType.EMAIL):
        yield from member_lines(audience, chunk=chunk)
        return
    unopened = 0
    for rows in _member_chunks(audience, chunk=chunk, sealed=True):
        lines = []
        for identifier, sealed in rows:
            line_hash = open_sealed(identifier, sealed) if sealed is not None else None
            if line_hash is None:
                unopened += sealed is not None
                continue
            lines.append(f"{line_hash}\n")
        if lines:
            yield "".join(lines)
    if unopened:
        logger.error(
            "audience %s: %d sealed copies did not open (wrong PII_HASH_KEY?)",
            audience.pk,
            unopened,
        )


def sealed_copies_open(audience: Audience) -> bool:
    """Whether the audience's sealed copies open under the current PII_HASH_KEY (checked on
    one row; True when there is none)."""
    from ..importers import open_sealed

    row = (
        AudienceMember.objects.filter(audience_id=audience.pk, sealed__isnull=False)
        .values_list("identifier", "sealed")
        .first()
    )
    return row is None or open_sealed(*row) is not None


def estimated_member_count() -> int | None:
    """PostgreSQL's estimate of the member table's rows (pg_class.reltuples), or None."""
    if connection.vendor != "postgresql":
        return None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT reltuples::bigint FROM pg_class WHERE relname = %s",
            ["audiences_audiencemember"],
        )
        row = cursor.fetchone()
    return int(row[0]) if row and row[0] is not None and row[0] >= 0 else None
