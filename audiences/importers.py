"""Reading, validating and storing files of member IDs (streaming, parallel, low memory).

``load_ids`` is the upload path (the Celery task, the services, the benchmark). In the caller's
transaction it:

1. reads the source in blocks of whole lines (a path, a binary file object, or an iterable of ID
   strings for the API);
2. has each block checked, normalised and hashed by ``audiences.hashing.process_block`` — in
   ``WORKERS`` worker processes for big files (hashing is CPU-bound and the GIL would serialise
   it), in-process for small ones. A block of nothing but compact Taiwanese mobile numbers takes
   a bytes-level fast path: one regex over the block, then only hashing per line;
3. streams the rows into a private staging table as the results arrive, in file order (one COPY
   on PostgreSQL, ``executemany`` elsewhere), while at most ``WINDOW`` blocks are in flight, so
   memory stays flat whatever the file size;
4. checks the whole file before anything reaches the member table: malformed lines, encoding,
   the 1,500,000 limit and duplicates (found in the database from the staging rows, which keep
   their line numbers). Any problem raises ``UploadRejected`` naming the first offending lines;
   the caller's transaction then rolls back and nothing is stored;
5. moves the staging rows into the member table with one ``INSERT ... SELECT ... ORDER BY
   identifier`` (the unique index grows at its right edge). For a new audience on PostgreSQL
   that unique index *is* the duplicate check: the insert runs in a savepoint, and only when it
   reports a duplicate do we query which lines. The rows become visible only when the caller
   commits: all or nothing.

Each phone/e-mail member also gets its sealed LINE-style hash (``audiences.hashing``), so that
Admins can export the audience as LINE-style hashes.

Every upload takes this one path whatever its size: the admin's check before the confirmation
(``dry_run=True``), the import, the API and the benchmark.
"""

import os
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from lbm import pii
from lbm.exceptions import DomainError

from . import hashing
from .models import IdType

# docs/audiences.md: at most this many IDs per file. Tests monkeypatch it lower.
MAX_IDS = 1_500_000
# How many offending lines an error names.
MAX_REPORTED = hashing.MAX_REPORTED
# Blocks handed to the hashing workers: about 23,000 phone numbers each.
BLOCK_BYTES = 256 * 1024
# Sources at least this big are hashed in worker processes (starting them costs ~0.1 s).
PARALLEL_MIN_BYTES = 1024 * 1024
# Blocks in flight at once: keeps the workers busy while bounding memory.
WINDOW_PER_WORKER = 2

MEMBER_TABLE = "audiences_audiencemember"
STAGING_TABLE = "audiences_load"
SEALED_TYPES = (IdType.PHONE, IdType.EMAIL)

ProgressCallback = Callable[[float], None]


def workers() -> int:
    return int(getattr(settings, "AUDIENCES_UPLOAD_WORKERS", 0) or min(2, os.cpu_count() or 1))


class UploadRejected(DomainError):
    """The file was refused whole; ``problems`` lists (line number, reason) of the first
    offending lines and ``bad_count`` how many there are in all."""

    def __init__(
        self, message: str, *, problems: list[tuple[int, str]] | None = None, bad_count: int = 0
    ):
        self.problems = list(problems or [])
        self.bad_count = bad_count
        details = [
            _("Line %(line)d: %(reason)s") % {"line": n, "reason": r} for n, r in self.problems
        ]
        super().__init__(message, details=details)


class Malformed(ValueError):
    """A single line is not a valid ID of the chosen type; the message names no value."""


def _reason(code: str) -> str:
    return {
        hashing.BAD_USER_ID: _("not a LINE user ID (U followed by 32 hexadecimal digits)"),
        hashing.BAD_IFA: _("not an IDFA/AAID (a UUID)"),
        hashing.BAD_PHONE: _("not a valid phone number"),
        hashing.BAD_EMAIL: _("not an e-mail address"),
        hashing.BAD_NUL: _("not text (NUL byte); is the file UTF-8?"),
        hashing.EMPTY: _("empty line"),
    }[code]


# --- Single values ----------------------------------------------------------------------------


def _keys(id_type: str) -> tuple[bytes, bytes | None]:
    pii_key = settings.PII_HASH_KEY.encode("utf-8")
    return pii_key, hashing.seal_key(pii_key) if id_type in SEALED_TYPES else None


def phone_e164(value: str) -> str:
    """``value`` in E.164, exactly as ``lbm.pii.normalise_phone`` would return it."""
    e164 = pii.phone_e164(value.strip())
    if e164 is None:
        raise Malformed(_("not a valid phone number"))
    return e164


def stored_row(id_type: str, value: str) -> tuple[str, str]:
    """(identifier, sealed hex or "") of one ID; raises ``Malformed``."""
    if id_type not in IdType.values:
        raise DomainError(_("Unknown ID type."))
    pii_key, k_seal = _keys(id_type)
    result = hashing.normalise(hashing.Rower(id_type, pii_key, k_seal), value.strip())
    if isinstance(result, str):
        raise Malformed(_reason(result))
    return result


def stored_identifier(id_type: str, value: str) -> str:
    """The stored form of one ID (for searches and the API); raises ``Malformed``."""
    return stored_row(id_type, value)[0]


def open_sealed(identifier: str, sealed: bytes | memoryview | None) -> str | None:
    """The LINE-style hash of a phone/e-mail member, or None when the row has no sealed copy or
    it does not open under the current PII_HASH_KEY."""
    if not sealed:
        return None
    pii_key = settings.PII_HASH_KEY.encode("utf-8")
    return hashing.open_sealed(
        identifier, bytes(sealed), pii_key=pii_key, k_seal=hashing.seal_key(pii_key)
    )


# --- Reading blocks ---------------------------------------------------------------------------


def _source_size(source, total_bytes: int) -> int:
    if total_bytes:
        return total_bytes
    if isinstance(source, (str, Path)):
        return os.path.getsize(source)
    return int(getattr(source, "size", 0) or 0)


def _blocks(source) -> Iterator[tuple[bytes, int, int]]:
    """(block of whole lines, number of its first line, bytes read so far)."""
    if isinstance(source, (str, Path)):
        with open(source, "rb") as handle:
            yield from _file_blocks(handle)
        return
    if hasattr(source, "read"):
        if hasattr(source, "seek"):
            source.seek(0)
        yield from _file_blocks(source)
        return
    # An iterable of strings (the API): one item per line.
    line, batch, seen = 1, [], 0
    for item in source:
        batch.append(str(item).replace("\r", " ").replace("\n", " "))
        if len(batch) == 20_000:
            block = ("\n".join(batch) + "\n").encode("utf-8")
            seen += len(block)
            yield block, line, seen
            line += len(batch)
            batch = []
    if batch:
        block = ("\n".join(batch) + "\n").encode("utf-8")
        yield block, line, seen + len(block)


def _file_blocks(handle) -> Iterator[tuple[bytes, int, int]]:
    line, seen, rest = 1, 0, b""
    while True:
        data = handle.read(BLOCK_BYTES)
        if isinstance(data, str):
            data = data.encode("utf-8")
        if not data:
            break
        seen += len(data)
        data = rest + data
        cut = data.rfind(b"\n") + 1
        if cut == 0:
            rest = data
            continue
        block, rest = data[:cut], data[cut:]
        yield block, line, seen
        line += block.count(b"\n")
    if rest:
        yield rest, line, seen


def _results(source, id_type: str, size: int) -> Iterator[tuple[dict, int]]:
    """Each block's result, in file order, with the bytes read so far."""
    pii_key, k_seal = _keys(id_type)
    tasks = (
        (block, first, id_type, pii_key, k_seal, seen) for block, first, seen in _blocks(source)
    )
    count = workers()
    if count < 2 or size < PARALLEL_MIN_BYTES or not _may_fork_pool():
        for *task, seen in tasks:
            yield hashing.process_block(*task), seen
        return
    from concurrent.futures import ProcessPoolExecutor

    # The workers run only ``audiences.hashing`` (keys as bytes, no settings, no database).
    # Each child puts the signal handlers back to the defaults first (a forked child keeps the
    # Celery worker's, and then never exits on SIGTERM nor reports a SIGKILL cleanly); a child
    # that dies breaks the pool (BrokenProcessPool), which fails the upload (docs/reliability.md).
    executor = ProcessPoolExecutor(
        max_workers=count, mp_context=pool_context(), initializer=hashing.child_defaults
    )
    try:
        pending: deque = deque()
        for *task, seen in tasks:
            pending.append((executor.submit(hashing.process_task, tuple(task)), seen))
            if len(pending) >= count * WINDOW_PER_WORKER:
                future, done = pending.popleft()
                yield future.result(), done
        while pending:
            future, done = pending.popleft()
            yield future.result(), done
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def _may_fork_pool() -> bool:
    """False in a daemonic process — a Celery prefork pool child, where multiprocessing refuses
    to start children ("daemonic processes are not allowed to have children"). There the file is
    hashed in-process: the prefork pool already spreads uploads over the cores."""
    import multiprocessing

    if multiprocessing.current_process().daemon:
        return False
    try:
        import billiard.process
    except ImportError:  # pragma: no cover - Celery brings billiard
        return True
    return not billiard.process.current_process().daemon


def pool_context():
    """How the hashing processes start (docs/reliability.md#imports-of-id-files). ``fork`` in a
    process running one thread (a prefork or solo Celery worker, a script, a test): it starts at
    once and the parent's pages stay shared; the children never touch the inherited database
    connection (they leave through ``os._exit``). ``spawn`` when other threads run (a Celery
    worker with ``--pool=threads``, a threaded web server): a child forked there inherits
    whatever locks those threads held at that instant (logging, the import lock, a connection
    pool's) and can wait on them for ever. A spawned child starts a fresh interpreter and imports
    only ``audiences.hashing``."""
    import multiprocessing
    import threading

    return multiprocessing.get_context("fork" if threading.active_count() == 1 else "spawn")


@dataclass
class _Tally:
    """What the blocks reported, merged in file order."""

    count: int = 0
    bad: int = 0
    problems: list = field(default_factory=list)
    encoding_error: int | None = None
    blank: tuple[int, int] = (0, 0)  # blank lines after the last ID so far: (first, count)

    def _blank_lines_before_an_id(self) -> None:
        start, number = self.blank
        if number:
            self.bad += number
            self.problems.extend(
                (n, _reason(hashing.EMPTY)) for n in range(start, start + min(number, MAX_REPORTED))
            )
        self.blank = (0, 0)

    def add(self, result: dict) -> None:
        if result["encoding_error"] is not None:
            self.encoding_error = result["encoding_error"]
        head_start, head_count = result["head_blank"]
        if head_count:
            start, number = self.blank
            self.blank = (start if number else head_start, number + head_count)
        if result["count"]:
            self._blank_lines_before_an_id()
            self.blank = result["tail_blank"]
        self.count += result["count"]
        self.bad += result["bad"]
        if len(self.problems) < MAX_REPORTED:
            self.problems.extend((n, _reason(code)) for n, code in result["problems"])

    def check(self, limit: int) -> None:
        """Raise for the faults that need no duplicate search."""
        if self.encoding_error is not None:
            raise UploadRejected(
                _(
                    "The file is not UTF-8 text (line %(line)d); save it as UTF-8 and upload it "
                    "again."
                )
                % {"line": self.encoding_error},
                problems=[(self.encoding_error, _("not UTF-8"))],
                bad_count=1,
            )
        if self.count > limit:
            raise UploadRejected(
                _("The file has %(count)s IDs; a file may hold at most %(max)s.")
                % {"count": f"{self.count:,}", "max": f"{limit:,}"},
                bad_count=self.count - limit,
            )
        if self.count == 0:
            raise UploadRejected(_("The file contains no IDs."))

    def reject_if_bad(self, duplicates: list[tuple[int, int]], duplicate_count: int) -> None:
        problems = self.problems + [
            (line, _("duplicate of line %(line)d") % {"line": first}) for line, first in duplicates
        ]
        bad = self.bad + duplicate_count
        if bad:
            raise UploadRejected(
                ngettext(
                    "The file was rejected: %(count)s line is malformed or duplicated; "
                    "nothing was stored.",
                    "The file was rejected: %(count)s lines are malformed or duplicated; "
                    "nothing was stored.",
                    bad,
                )
                % {"count": f"{bad:,}"},
                problems=sorted(problems)[:MAX_REPORTED],
                bad_count=bad,
            )


# --- The upload path --------------------------------------------------------------------------


@dataclass
class Loaded:
    count: int  # IDs in the file
    added: int  # members added (an addition skips the ones the audience has)


def load_ids(
    source,
    *,
    id_type: str,
    audience_id: int | None,
    new_audience: bool,
    total_bytes: int = 0,
    progress: ProgressCallback | None = None,
    dry_run: bool = False,
) -> Loaded:
    """Validate every ID of ``source`` and add them to ``audience_id`` in the caller's
    transaction (which must be open); raise ``UploadRejected`` if the file is refused (the
    caller's transaction then rolls back). See the module docstring.

    ``dry_run``: the same checks, but nothing is added; ``added`` is then how many of the IDs
    the audience does not have yet (the summary shown before an upload is confirmed)."""
    if not connection.in_atomic_block:
        raise RuntimeError("load_ids must run inside transaction.atomic()")
    limit = MAX_IDS
    size = _source_size(source, total_bytes)
    tally = _Tally()
    postgresql = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {STAGING_TABLE}")
        if postgresql:
            cursor.execute(
                f"CREATE TEMP TABLE {STAGING_TABLE} (identifier varchar(64) "
                'COLLATE "C", sealed bytea, line integer) ON COMMIT DROP'
            )
            with cursor.cursor.copy(
                f"COPY {STAGING_TABLE} (identifier, sealed, line) FROM STDIN"
            ) as copy:
                _feed(source, id_type, size, tally, limit, copy.write, progress)
        else:
            cursor.execute(
                f"CREATE TEMP TABLE {STAGING_TABLE} (identifier varchar(64), "
                "sealed blob, line integer)"
            )

            def write(rows: bytes) -> None:
                cursor.executemany(
                    f"INSERT INTO {STAGING_TABLE} (identifier, sealed, line) VALUES (%s, %s, %s)",
                    [_staging_row(line) for line in rows.decode("ascii").splitlines()],
                )

            _feed(source, id_type, size, tally, limit, write, progress)
        tally.check(limit)
        check_first = tally.bad or not (postgresql and new_audience) or dry_run
        if check_first:
            tally.reject_if_bad(*_duplicates(cursor))
        if dry_run:
            existing = 0
            if not new_audience:
                cursor.execute(
                    f"SELECT COUNT(*) FROM {STAGING_TABLE} s JOIN {MEMBER_TABLE} m "
                    "ON m.identifier = s.identifier AND m.audience_id = %s",
                    [audience_id],
                )
                existing = cursor.fetchone()[0]
            cursor.execute(f"DROP TABLE {STAGING_TABLE}")
            if progress is not None:
                progress(1.0)
            return Loaded(count=tally.count, added=tally.count - existing)
        if id_type in SEALED_TYPES and not new_audience:
            _backfill_sealed(cursor, audience_id)
        if postgresql:
            cursor.execute("SET LOCAL work_mem = '256MB'")
        conflict = "" if new_audience else " ON CONFLICT DO NOTHING"
        insert = (
            f"INSERT INTO {MEMBER_TABLE} (audience_id, identifier, sealed) "
            f"SELECT %s, identifier, sealed FROM {STAGING_TABLE} ORDER BY identifier" + conflict
        )
        try:
            with transaction.atomic():  # a savepoint: a duplicate only costs this statement
                cursor.execute(insert, [audience_id])
                added = cursor.rowcount
        except IntegrityError:
            if check_first:
                raise
            tally.reject_if_bad(*_duplicates(cursor))
            raise
        cursor.execute(f"DROP TABLE {STAGING_TABLE}")
        if postgresql:
            cursor.execute("RESET work_mem")
    if progress is not None:
        progress(1.0)
    return Loaded(count=tally.count, added=added)


def _feed(source, id_type, size, tally, limit, write, progress) -> None:
    for result, seen in _results(source, id_type, size):
        tally.add(result)
        if tally.encoding_error is not None:
            break
        if tally.count <= limit and result["rows"]:
            write(result["rows"])
        if progress is not None and size:
            progress(0.8 * min(seen / size, 1.0))


def _staging_row(line: str) -> tuple[str, bytes | None, int]:
    identifier, sealed, number = line.split("\t")
    return identifier, bytes.fromhex(sealed[3:]) if sealed != "\\N" else None, int(number)


def _duplicates(cursor) -> tuple[list[tuple[int, int]], int]:
    """(line, line of its first occurrence) of the first duplicates, and how many in all."""
    cursor.execute(f"SELECT COUNT(*) - COUNT(DISTINCT identifier) FROM {STAGING_TABLE}")
    total = cursor.fetchone()[0]
    if not total:
        return [], 0
    cursor.execute(
        f"SELECT line, first FROM (SELECT line, MIN(line) OVER (PARTITION BY "
        f"identifier) AS first FROM {STAGING_TABLE}) d WHERE line <> first "
        f"ORDER BY line LIMIT {MAX_REPORTED}"
    )
    return [tuple(row) for row in cursor.fetchall()], total


def _backfill_sealed(cursor, audience_id: int) -> None:
    """Members stored before sealed copies existed get theirs when the same IDs are uploaded
    again as an addition (the only way: a keyed hash cannot be reversed)."""
    cursor.execute(
        f"SELECT 1 FROM {MEMBER_TABLE} WHERE audience_id = %s AND sealed IS NULL LIMIT 1",
        [audience_id],
    )
    if cursor.fetchone() is None:
        return
    cursor.execute(
        f"UPDATE {MEMBER_TABLE} SET sealed = s.sealed FROM {STAGING_TABLE} s "
        f"WHERE {MEMBER_TABLE}.audience_id = %s AND {MEMBER_TABLE}.sealed IS NULL "
        f"AND {MEMBER_TABLE}.identifier = s.identifier AND s.sealed IS NOT NULL",
        [audience_id],
    )
