"""Generation stamps: what lets the API keep per-account facts in process memory safely.

The hot API paths (a phone-number push, an audience list) need the same facts about the
calling account on every request: its channel and live tokens, whether it may send
notification messages, its approved templates. Reading them from the database each time cost
most of a request. Instead each worker process keeps them in memory, stamped with the
account's *generation*: a random value kept in the shared cache (Redis in production), replaced
whenever a row those facts come from is saved or deleted (``watch`` connects the signals, and
the replacement is repeated once the transaction commits, so that no worker can reload the old
rows under the new stamp). A request reads the stamps with one round trip and rebuilds what is
stale; an entry is also rebuilt after ``MAX_AGE`` seconds whatever its stamp, so that a change
made behind the ORM's back (a raw ``UPDATE``) is picked up too.

A stamp exists per account plus one global stamp for rows shared by many accounts (plans,
providers). A missing stamp (an empty or flushed cache) is created on first read, never matched.
"""

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache
from django.db import transaction

GLOBAL = "all"
MAX_AGE = 60.0  # seconds: the bound on staleness for changes that send no signal
_PREFIX = "lbm:gen:"


def _key(scope) -> str:
    return f"{_PREFIX}{scope}"


def _new_stamp() -> int:
    # An int: Django's Redis serializer stores it as plain digits, readable without unpickling.
    return secrets.randbits(62) + 1


_clients: dict[int, Any] = {}


def redis_client():
    """The raw redis-py client behind the default cache, kept per process, or ``None`` when
    the cache is not Redis. (Django's ``RedisCache`` builds a new client object on every call,
    which costs more than the round trip on the hot paths.)"""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    client = _clients.get(id(backend))
    if client is None:
        client = _clients[id(backend)] = backend._cache.get_client(write=True)
    return client


def full_key(key: str) -> str:
    """``key`` as the default cache stores it (prefix and version)."""
    return caches["default"].make_and_validate_key(key)


# The stamps and, when asked, a rate-limit counter in one command (redis-py's pipeline object
# cost more Python than the round trip). KEYS: the two stamps[, the counter]; ARGV[1]: the
# counter's lifetime in seconds, set when it is created.
_READ_LUA = """
local stamps = redis.call('MGET', KEYS[1], KEYS[2])
local n = 0
if KEYS[3] then
  n = redis.call('INCR', KEYS[3])
  redis.call('EXPIRE', KEYS[3], ARGV[1], 'NX')
end
return {stamps[1] or false, stamps[2] or false, n}
"""
_scripts: dict[int, Any] = {}


def _script(client):
    script = _scripts.get(id(client))
    if script is None:
        script = _scripts[id(client)] = client.register_script(_READ_LUA)
    return script


_full_keys: dict[str, str] = {}


def _stamp_key(scope) -> str:
    """The stamp's full cache key, remembered (one per account the process has served)."""
    key = _full_keys.get(scope)
    if key is None:
        key = _full_keys[scope] = full_key(_key(scope))
    return key


def bump(account_id: int | None) -> None:
    """Invalidate what workers keep about ``account_id`` (``None``: about every account), now
    and again once the current transaction commits."""
    key = _key(GLOBAL if account_id is None else account_id)

    def replace():
        cache.set(key, _new_stamp(), timeout=None)

    replace()
    transaction.on_commit(replace)


def read(account_id: int, *, count: tuple[str, int] | None = None):
    """The ``(global, account)`` stamps: one cache round trip (more when one is missing).

    With ``count=(key, seconds)`` also adds one to the counter ``key`` (created to expire
    after ``seconds``) in the same round trip, for the API's rate limits, and returns
    ``(stamps, count)``."""
    keys = [_key(GLOBAL), _key(account_id)]
    client = redis_client()
    if client is not None:
        script_keys = [_stamp_key(GLOBAL), _stamp_key(account_id)]
        if count is not None:
            script_keys.append(full_key(count[0]))
        first, second, counted = _script(client)(
            keys=script_keys, args=[count[1] if count is not None else 0]
        )
        if first is not None and second is not None and first.isdigit() and second.isdigit():
            stamps = int(first), int(second)
        else:
            stamps = _read_slowly(keys)
        return stamps if count is None else (stamps, int(counted))
    stamps = _read_slowly(keys)
    return stamps if count is None else (stamps, add_one(*count))


def _read_slowly(keys: list[str]) -> tuple[int, int]:
    found = cache.get_many(keys)
    if len(found) < 2 or not all(type(v) is int for v in found.values()):
        for key in keys:
            if key not in found:
                cache.add(key, _new_stamp(), timeout=None)
            elif type(found[key]) is not int:
                cache.set(key, _new_stamp(), timeout=None)
        found = cache.get_many(keys)
    return found.get(keys[0], 0), found.get(keys[1], 0)


def add_one(key: str, seconds: int) -> int:
    """Add one to the counter ``key`` (created to expire after ``seconds``); returns it."""
    client = redis_client()
    if client is not None:
        name = full_key(key)
        pipe = client.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, seconds, nx=True)
        return int(pipe.execute()[0])
    cache.add(key, 0, timeout=seconds)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.add(key, 1, timeout=seconds)
        return 1


@dataclass
class _Entry:
    stamp: tuple[int, int]
    built_at: float
    value: Any


_caches: list["StampedCache"] = []


class StampedCache:
    """Per-process memory of one kind of per-account fact, valid while the account's stamps
    are unchanged (and for at most ``MAX_AGE`` seconds)."""

    def __init__(self, name: str, max_entries: int = 10_000):
        self.name = name
        self.max_entries = max_entries
        self._entries: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        _caches.append(self)

    def get(self, account_id: int, stamp: tuple[int, int], build: Callable[[int], Any]):
        entry = self._entries.get(account_id)
        now = time.monotonic()
        if entry is not None and entry.stamp == stamp and now - entry.built_at < MAX_AGE:
            return entry.value
        value = build(account_id)
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # rare: rebuilding is cheap, memory stays bounded
            self._entries[account_id] = _Entry(stamp, now, value)
        return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def forget_all() -> None:
    """Empty every per-process cache (tests, between cases)."""
    for stamped in _caches:
        stamped.clear()
    _full_keys.clear()


def watch(model, account_of: Callable[[Any], int | None]) -> None:
    """Bump the stamp of ``account_of(instance)`` (``None``: the global stamp) whenever a
    ``model`` row is saved or deleted."""
    from django.db.models.signals import post_delete, post_save

    def changed(sender, instance, **kwargs):
        if kwargs.get("raw"):
            return  # loading fixtures
        bump(account_of(instance))

    uid = f"lbm.generations.{model._meta.label}"
    post_save.connect(changed, sender=model, weak=False, dispatch_uid=uid + ".save")
    post_delete.connect(changed, sender=model, weak=False, dispatch_uid=uid + ".delete")
