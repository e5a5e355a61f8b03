from django.utils import translation
from rest_framework.views import APIView


class LineAPIView(APIView):
    """Base of every endpoint: LINE's API speaks English whatever the admin's language."""

    throttle_scope = "default"

    def initial(self, request, *args, **kwargs):
        translation.activate("en")
        super().initial(request, *args, **kwargs)
