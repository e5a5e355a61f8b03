from django.utils import translation
from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from .parsers import LineJSONParser

_JSON = JSONRenderer()


class LineAPIView(APIView):
    """Base of every endpoint: LINE's API speaks English whatever the admin's language."""

    throttle_scope = "default"
    parser_classes = [LineJSONParser]

    def perform_content_negotiation(self, request, force=False):
        """LINE's API answers JSON whatever the ``Accept`` header says, as LINE does."""
        return _JSON, _JSON.media_type

    def initial(self, request, *args, **kwargs):
        translation.activate("en")
        super().initial(request, *args, **kwargs)
