"""Notification messages by phone number (``/bot/pnp/push``), their daily statistics
(``/v2/bot/message/delivery/pnp``) and narrowcasts to an audience.

A phone-number push carries LINE messages, not a reference to a template. The notice is the
first text message, written as the approved template's title, a line break and its body, with
the placeholders filled in; it is matched against the channel's approved template versions
(a placeholder becomes a named group), so that only content LINE approved can be sent and the
placeholder values are recovered for the record. Anything else is refused.
"""

import re
from datetime import date, datetime

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from notifications import retry_keys
from notifications import selectors as lon_selectors
from notifications import services as lon
from notifications.exceptions import NarrowcastRefused, SendRefused
from notifications.models import Notice, RetryKey
from notifications.services import narrowcast, push

from . import schemas
from .base import LineAPIView
from .errors import LineAPIError

RETRY_KEY_ACCEPTED = "The retry key is already accepted"


def retry_key_of(request):
    """The request's ``X-Line-Retry-Key`` (a UUID) or None; a malformed one is a 400."""
    try:
        return retry_keys.parse_key(request.META.get("HTTP_X_LINE_RETRY_KEY"))
    except ValueError as exc:
        raise LineAPIError(
            "The request has 1 error(s)", details=[(str(exc), retry_keys.HEADER)]
        ) from None


def once_per_retry_key(request, key, endpoint: str):
    """``retry_keys.claimed`` for this request's channel; a key accepted before answers 409
    with the accepted request's id in ``X-Line-Accepted-Request-Id`` (docs/api.md#retry-keys)."""
    return retry_keys.claimed(
        channel_id=request.auth.pk,
        key=key,
        endpoint=endpoint,
        request_id=getattr(request, "request_id", "") or "",
    )


def already_accepted(exc: retry_keys.RetryKeyAccepted) -> LineAPIError:
    return LineAPIError(
        RETRY_KEY_ACCEPTED,
        status_code=status.HTTP_409_CONFLICT,
        headers={"X-Line-Accepted-Request-Id": exc.request_id},
    )


class PnpSerializer(serializers.Serializer):
    to = serializers.CharField()
    messages = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=5)
    notificationDisabled = serializers.BooleanField(required=False, default=False)


def pnp_body(data) -> dict:
    """The push body as ``PnpSerializer.validated_data``. A well-formed body, one the serializer
    would take unchanged, is taken as it is: building and running a serializer costs more than
    the rest of a push's Python. Anything else goes through the serializer, for its coercions
    and its errors."""
    if isinstance(data, dict):
        to, messages = data.get("to"), data.get("messages")
        disabled = data.get("notificationDisabled", False)
        if (
            type(to) is str
            and to
            and to.strip() == to
            and type(messages) is list
            and 1 <= len(messages) <= 5
            and all(type(m) is dict for m in messages)
            and type(disabled) is bool
        ):
            return {"to": to, "messages": messages, "notificationDisabled": disabled}
    serializer = PnpSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class PnpPushView(LineAPIView):
    """``POST /bot/pnp/push``: 200 ``{}`` when accepted (delivered or waiting up to 24 hours for
    consent, SMS verification or unblocking); 422 when the number matches no LINE user (known at
    once, docs/notifications.md#judging-a-push)."""

    throttle_scope = "pnp"

    @extend_schema(
        operation_id="pushMessagesByPhone",
        request=PnpSerializer,
        parameters=[
            schemas.OpenApiParameter("X-Line-Delivery-Tag", str, location="header"),
            schemas.OpenApiParameter("X-Line-Retry-Key", str, location="header"),
        ],
        responses={
            200: schemas.EmptySerializer,
            409: schemas.EmptySerializer,
            422: schemas.EmptySerializer,
        },
    )
    def post(self, request):
        data = pnp_body(request.data)
        retry_key = retry_key_of(request)
        tag = request.META.get("HTTP_X_LINE_DELIVERY_TAG", "")
        problem = lon.delivery_tag_problem(tag)
        if problem:
            raise LineAPIError(
                "The request has 1 error(s)", details=[(problem, "X-Line-Delivery-Tag")]
            )
        sender = push.sender_for(account_id=request.auth.account_id, stamp=request.user.stamp)
        if not sender.live:
            raise LineAPIError(
                "Access to this API is not available for your account", status_code=403
            )
        texts = [m.get("text") for m in data["messages"] if m.get("type") == "text"]
        if not texts or not isinstance(texts[0], str):
            raise LineAPIError(
                "The request has 1 error(s)",
                details=[("a notification message needs a text message", "messages")],
            )
        matched = push.template_match(sender, texts[0])
        if matched is None:
            raise LineAPIError(
                "The message does not match an approved notification template of this channel.",
                details=[
                    (
                        "write the template's title, a line break and its body "
                        "with the placeholders filled in",
                        "messages[0].text",
                    )
                ],
            )
        version, values = matched
        try:
            with once_per_retry_key(request, retry_key, RetryKey.Endpoint.PNP_PUSH):
                _notice_id, state = push.notice_push(
                    sender=sender, version=version, values=values, to=data["to"], delivery_tag=tag
                )
        except retry_keys.RetryKeyAccepted as exc:
            raise already_accepted(exc) from None
        except SendRefused as exc:
            raise LineAPIError(exc.message, details=[(d, None) for d in exc.details]) from exc
        if state == Notice.State.FAILED:
            return Response(
                {"message": "Failed to send messages"}, status=status.HTTP_422_UNPROCESSABLE_ENTITY
            )
        return Response({}, status=status.HTTP_200_OK)


class PnpStatisticsView(LineAPIView):
    """``GET /v2/bot/message/delivery/pnp?date=yyyyMMdd`` (a Japan-time day)."""

    @extend_schema(
        operation_id="getPNPMessageStatistics",
        parameters=[schemas.OpenApiParameter("date", str, required=True)],
        responses=schemas.StatisticsSerializer,
    )
    def get(self, request):
        raw = request.query_params.get("date", "")
        try:
            day = (
                datetime.strptime(raw, "%Y%m%d").date()  # ASCII digits: \d takes "٢٠٢٦…"
                if re.fullmatch(r"[0-9]{8}", raw)
                else None
            )
        except ValueError:
            day = None
        if day is None:
            raise LineAPIError(
                "The request has 1 error(s)", details=[("must match yyyyMMdd", "date")]
            )
        return Response(
            lon_selectors.delivery_statistics(account_id=request.auth.account_id, day=day)
        )


class NarrowcastSerializer(serializers.Serializer):
    messages = serializers.ListField(child=serializers.DictField(), min_length=1, max_length=5)
    recipient = serializers.DictField()
    limit = serializers.DictField(required=False)
    notificationDisabled = serializers.BooleanField(required=False, default=False)


class NarrowcastView(LineAPIView):
    """``POST /v2/bot/message/narrowcast`` to an audience: reaches only the audience's members
    who are friends of the account and have not blocked it, at least 50; counted in the usage
    ledger; refused over the monthly quota with LINE's body. The rules are
    ``notifications.services.narrowcast.narrowcast_send``'s."""

    @extend_schema(
        operation_id="narrowcast",
        request=NarrowcastSerializer,
        parameters=[schemas.OpenApiParameter("X-Line-Retry-Key", str, location="header")],
        responses={202: schemas.EmptySerializer, 409: schemas.EmptySerializer},
    )
    def post(self, request):
        serializer = NarrowcastSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        retry_key = retry_key_of(request)
        try:
            narrowcast.narrowcast_send(
                account_id=request.auth.account_id,
                channel_id=request.auth.pk,
                recipient=data["recipient"],
                messages=data["messages"],
                limit=data.get("limit"),
                retry_key=retry_key,
                request_id=getattr(request, "request_id", "") or "",
            )
        except retry_keys.RetryKeyAccepted as exc:
            raise already_accepted(exc) from None
        except NarrowcastRefused as exc:
            raise LineAPIError(exc.message, status_code=exc.status, details=exc.problems) from exc
        return Response({}, status=status.HTTP_202_ACCEPTED)


__all__ = ["PnpPushView", "PnpStatisticsView", "NarrowcastView", "date"]
