from rest_framework import authentication, exceptions

from lbm.channels import channel_for_token


class ChannelUser:
    """The caller of the API: a channel (an Official Account), not a person."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, channel):
        self.channel = channel
        self.pk = None

    def __str__(self) -> str:
        return f"channel {self.channel.channel_id}"


class ChannelTokenAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <channel access token>``; the token is looked up by its hash."""

    keyword = "bearer"

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None  # → NotAuthenticated: "Authorization header required"
        scheme, _sep, token = header.partition(" ")
        if scheme.lower() != self.keyword or not token.strip():
            raise exceptions.NotAuthenticated()
        channel = channel_for_token(token.strip())
        if channel is None:
            raise exceptions.AuthenticationFailed()
        return ChannelUser(channel), channel

    def authenticate_header(self, request):
        return 'Bearer realm="LINE"'
