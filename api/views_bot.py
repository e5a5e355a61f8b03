from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response

from .base import LineAPIView


class BotInfoView(LineAPIView):
    """``GET /v2/bot/info``: the channel's Official Account."""

    throttle_scope = "default"

    @extend_schema(
        operation_id="getBotInfo",
        responses=inline_serializer(
            "BotInfoResponse",
            {
                "userId": serializers.CharField(),
                "basicId": serializers.CharField(),
                "premiumId": serializers.CharField(required=False),
                "displayName": serializers.CharField(),
                "chatMode": serializers.CharField(),
                "markAsReadMode": serializers.CharField(),
            },
        ),
    )
    def get(self, request):
        channel = request.auth
        account = channel.account
        data = {
            "userId": channel.bot_user_id,
            "basicId": account.basic_id,
            "displayName": account.name,
            "chatMode": "bot",
            "markAsReadMode": "auto",
        }
        if account.premium_id:
            data["premiumId"] = account.premium_id
        return Response(data)
