import uuid

API_PREFIXES = ("/v2/bot/", "/bot/", "/tag/")


class LineRequestIdMiddleware:
    """Every answer of the LINE-compatible API carries an ``X-Line-Request-Id``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith(API_PREFIXES):
            response["X-Line-Request-Id"] = str(uuid.uuid4())
        return response
