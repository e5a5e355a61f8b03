from rest_framework import authentication, exceptions

from lbm.channels import channel_entry_for_token

from . import throttling


class ChannelUser:
    """The caller of the API: a channel (an Official Account), not a person."""

    is_authenticated = True
    is_active = True
    is_staff = False
    is_superuser = False

    def __init__(self, channel, stamp=(0, 0), counted=None):
        self.channel = channel
        self.stamp = stamp  # the account's generation stamps read for this request
        self.counted = counted  # (throttle scope, requests in its window), counted on the way
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
        view = (getattr(request, "parser_context", None) or {}).get("view")
        scope = getattr(view, "throttle_scope", None)
        count = (lambda account_id: throttling.window(scope, account_id)) if scope else None
        entry = channel_entry_for_token(token.strip(), count=count)
        if entry is None:
            raise exceptions.AuthenticationFailed()
        counted = (scope, entry.count) if scope else None
        return ChannelUser(entry.channel, entry.stamp, counted), entry.channel

    def authenticate_header(self, request):
        return 'Bearer realm="LINE"'
