"""``GET /v2/bot/message/quota`` and ``/quota/consumption``, from the billing ledger."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from billing import selectors

from .base import LineAPIView


class QuotaView(LineAPIView):
    throttle_scope = "default"

    @extend_schema(
        operation_id="getMessageQuota",
        responses=inline_serializer(
            "MessageQuotaResponse",
            {
                "type": serializers.ChoiceField(["none", "limited"]),
                "value": serializers.IntegerField(required=False),
            },
        ),
    )
    def get(self, request):
        return Response(selectors.message_quota(account_id=request.auth.account_id))


class QuotaConsumptionView(LineAPIView):
    throttle_scope = "default"

    @extend_schema(
        operation_id="getMessageQuotaConsumption",
        responses=inline_serializer(
            "QuotaConsumptionResponse", {"totalUsage": serializers.IntegerField()}
        ),
    )
    def get(self, request):
        return Response(selectors.message_consumption(account_id=request.auth.account_id))
