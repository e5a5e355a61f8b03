"""What a person sees of a file of IDs before confirming its import (docs/audiences.md#uploading):
the ID type guessed from the first lines, and a few masked samples.

Nothing here stores or logs a value: the samples are recomputed from the kept upload file each
time the summary page is drawn, and the file goes once the upload is confirmed and imported,
cancelled, or swept (``services.uploads_sweep``).
"""

from collections import Counter

from lbm import pii

from . import hashing
from .models import IdType

# How much of the head of a file the guess reads, and how many of its lines.
HEAD_BYTES = 8 * 1024
HEAD_LINES = 20
SAMPLES = 3


def _head_lines(head: bytes | str, limit: int = HEAD_LINES) -> list[str]:
    if isinstance(head, bytes):
        if head.startswith(hashing.BOM):
            head = head[len(hashing.BOM) :]
        head = head.decode("utf-8", errors="replace")
    head = head.lstrip("\ufeff")
    lines = [line.strip() for line in head.splitlines()]
    return [line for line in lines if line][:limit]


def line_type(value: str) -> str | None:
    """The ID type one line is written in, or None (a LINE-style hash fits phone and e-mail
    alike, so it says nothing)."""
    if hashing.USER_ID.fullmatch(value):
        return IdType.USER_ID
    if hashing.IFA.fullmatch(value):
        return IdType.IFA
    if "@" in value:
        return IdType.EMAIL if pii.clean_email(value) else None
    if pii.phone_e164(value) is not None:
        return IdType.PHONE
    return None


def guess_id_type(head: bytes | str) -> str | None:
    """The ID type of a file from its first lines: the type most of them are written in, if at
    least half are; None when the lines do not tell (the person then chooses)."""
    lines = _head_lines(head)
    if not lines:
        return None
    counts = Counter(t for t in map(line_type, lines) if t is not None)
    if not counts:
        return None
    id_type, count = counts.most_common(1)[0]
    return id_type if count * 2 >= len(lines) else None


def mask(id_type: str, value: str) -> str:
    """``0912***678``, ``a***@example.com``, ``U1a2b***9f0e``: enough to recognise, not to read."""
    if len(value) == 64 and hashing.HEX64.fullmatch(value):
        return f"{value[:4].lower()}***"  # already a hash: nothing personal to show
    if id_type == IdType.PHONE:
        return pii.mask_phone(value)
    if id_type == IdType.EMAIL:
        cleaned = pii.clean_email(value)
        return pii.mask_email(cleaned) if cleaned else "***"
    return f"{value[:5]}***{value[-4:]}" if len(value) > 12 else "***"


def masked_samples(head: bytes | str, id_type: str, count: int = SAMPLES) -> list[str]:
    """Up to ``count`` masked IDs of the chosen type from the first lines of a file."""
    samples = []
    for value in _head_lines(head, limit=HEAD_LINES * 5):
        if len(value) == 64 and hashing.HEX64.fullmatch(value) or line_type(value) == id_type:
            samples.append(mask(id_type, value))
            if len(samples) == count:
                break
    return samples


def read_head(file) -> bytes:
    """The first ``HEAD_BYTES`` of an uploaded or stored file, leaving it at its start."""
    if hasattr(file, "seek"):
        file.seek(0)
    head = file.read(HEAD_BYTES)
    if hasattr(file, "seek"):
        file.seek(0)
    return head if isinstance(head, bytes) else head.encode("utf-8")
