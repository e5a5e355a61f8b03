"""Audience-side test data built through the services (and a few direct rows for the LINE user
directory, which LINE fills in production)."""

import hashlib
import itertools
from datetime import timedelta

from django.utils import timezone

from audiences import services
from audiences.models import Friendship, LineUser
from lbm import pii

_counter = itertools.count(1)


def user_id(n: int) -> str:
    return "U" + hashlib.md5(str(n).encode()).hexdigest()


def phone(n: int) -> str:
    return f"09{n % 90_000_000:08d}"


def line_users(count: int, *, start: int = 0, with_phone: bool = True) -> list[LineUser]:
    users = [
        LineUser(
            user_id=user_id(start + i),
            phone_hash=pii.phone_keyed_hash(phone(start + i)) if with_phone else None,
        )
        for i in range(count)
    ]
    LineUser.objects.bulk_create(users)
    return list(LineUser.objects.filter(user_id__in=[u.user_id for u in users]).order_by("pk"))


def friends(account, users, state=Friendship.State.FRIEND, path=Friendship.Path.QR_CODE):
    Friendship.objects.bulk_create(
        Friendship(
            account=account,
            line_user=u,
            state=state,
            friend_path=path,
            since=timezone.now() - timedelta(days=30),
        )
        for u in users
    )


def upload_audience(org, actor, ids, *, id_type="phone", name=None, **kwargs):
    return services.audience_create_from_ids(
        actor=actor,
        organization_id=org.pk,
        name=name or f"受眾 {next(_counter)}",
        id_type=id_type,
        ids=ids,
        **kwargs,
    )


def phones(count: int, start: int = 0) -> list[str]:
    return [phone(start + i) for i in range(count)]
