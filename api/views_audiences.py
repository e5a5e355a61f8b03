"""``/v2/bot/audienceGroup/...``: the Messaging API's audience endpoints on the audiences app's
services (the same rules and storage as the admin's uploads: one service, two front doors).

An audience created through the API belongs to the channel's Official Account (its source
account) and, while the account is linked, to that organization. LINE's ``description`` of an
audience group is its name here; ``uploadDescription`` describes the upload job.
"""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from audiences import selectors, services
from audiences.models import LINE_API_TYPE, Audience, IdType

from . import schemas
from .base import LineAPIView
from .errors import LineAPIError
from .params import INT64_MAX, PAGE_MAX, check_text, parse_bool, parse_int, valid_id
from .parsers import LineMultiPartParser

MAX_JSON_IDS = 10_000
MAX_FILE_BYTES = int(getattr(settings, "LBM_API_MAX_UPLOAD_BYTES", 64 * 1024 * 1024))
ROUTES = {
    Audience.Route.OA_MANAGER: "OA_MANAGER",
    Audience.Route.MESSAGING_API: "MESSAGING_API",
    # Audiences made in Business Manager come from LINE's advertising data side.
    Audience.Route.BUSINESS_MANAGER: "AD_MANAGER",
}
ROUTE_FILTER = {v: k for k, v in ROUTES.items()}
STATUS_FILTER = {
    "IN_PROGRESS": "in_progress",
    "READY": "ready",
    "FAILED": "failed",
    "EXPIRED": "expired",
}


def not_found() -> LineAPIError:
    return LineAPIError("audience group not found", details=[("AUDIENCE_GROUP_NOT_FOUND", None)])


def _epoch(moment) -> int:
    return int(moment.timestamp())


def audience_group(audience: Audience, *, permission: str = "READ_WRITE") -> dict:
    data = {
        "audienceGroupId": audience.pk,
        # Types LINE's enum does not have (phone/e-mail uploads, combined…) are upload lists.
        "type": LINE_API_TYPE.get(audience.type, "UPLOAD"),
        "description": audience.name,
        "status": audience.status.upper(),
        "audienceCount": audience.size,
        "created": _epoch(audience.created_at),
        "permission": permission,
        "createRoute": ROUTES.get(audience.create_route, "AD_MANAGER"),
        "isIfaAudience": audience.id_type == IdType.IFA,
    }
    if audience.status == Audience.Status.FAILED:
        data["failedType"] = "INTERNAL_ERROR"
    return data


def created_body(audience: Audience) -> dict:
    return {
        "audienceGroupId": audience.pk,
        "createRoute": "MESSAGING_API",
        "type": "UPLOAD",
        "description": audience.name,
        "created": _epoch(audience.created_at),
        "permission": "READ_WRITE",
        "expireTimestamp": _epoch(audience.expires_at),
        "isIfaAudience": audience.id_type == IdType.IFA,
    }


class AudienceIdSerializer(serializers.Serializer):
    id = serializers.CharField(max_length=100)


class CreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=120)
    isIfaAudience = serializers.BooleanField(required=False, default=False)
    uploadDescription = serializers.CharField(required=False, allow_blank=True, max_length=300)
    audiences = AudienceIdSerializer(many=True, required=False, max_length=MAX_JSON_IDS)


class AddSerializer(serializers.Serializer):
    audienceGroupId = serializers.IntegerField(min_value=1, max_value=INT64_MAX)
    uploadDescription = serializers.CharField(required=False, allow_blank=True, max_length=300)
    audiences = AudienceIdSerializer(many=True, max_length=MAX_JSON_IDS, allow_empty=False)


def channel_audience(
    request, audience_id, *, via: tuple[str, ...], refused: str, with_organization: bool = False
) -> Audience:
    """The audience ``audience_id`` when the request's channel may use it ``via``
    (``audiences.selectors.audience_usable_by_channel``): 400 when there is none with that id,
    403 with ``refused`` when the channel may not use it."""
    audience = (
        selectors.audience_by_id(audience_id, with_organization=with_organization)
        if valid_id(audience_id)
        else None
    )
    if audience is None:
        raise not_found()
    if not selectors.audience_usable_by_channel(
        account_id=request.auth.account_id, audience=audience, via=via
    ):
        raise LineAPIError(refused, status_code=403)
    return audience


def own_audience(request, audience_id) -> Audience:
    """The channel's own audience: 400 when there is none with that id, 403 when it belongs to
    another channel."""
    return channel_audience(
        request,
        audience_id,
        via=(selectors.OWN,),
        refused="This audience group belongs to another channel.",
    )


def _ids(items) -> list[str]:
    return [item["id"] for item in items or []]


class UploadView(LineAPIView):
    """``POST`` creates an upload audience from JSON; ``PUT`` adds IDs to one."""

    throttle_scope = "audience"

    @extend_schema(
        operation_id="createAudienceGroup",
        request=CreateSerializer,
        responses={202: schemas.CreateAudienceGroupResponseSerializer},
    )
    def post(self, request):
        data = _valid(CreateSerializer, request.data)
        audience = services.audience_create_from_ids(
            actor=None,
            account_id=request.auth.account_id,
            name=data["description"],
            id_type=IdType.IFA if data["isIfaAudience"] else IdType.USER_ID,
            ids=_ids(data.get("audiences")),
            description=data.get("uploadDescription", ""),
            route=Audience.Route.MESSAGING_API,
        )
        return Response(created_body(audience), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="addAudienceToAudienceGroup",
        request=AddSerializer,
        responses={202: schemas.EmptySerializer},
    )
    def put(self, request):
        data = _valid(AddSerializer, request.data)
        audience = own_audience(request, data["audienceGroupId"])
        services.audience_add_ids(actor=None, audience_id=audience.pk, ids=_ids(data["audiences"]))
        return Response({}, status=status.HTTP_202_ACCEPTED)


def _valid(serializer_class, data) -> dict:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _upload_file(request):
    upload = request.FILES.get("file")
    if upload is None:
        raise LineAPIError("The request has 1 error(s)", details=[("must not be null", "file")])
    if upload.size > MAX_FILE_BYTES:
        raise LineAPIError("The file is too large.", status_code=413)
    content_type = (upload.content_type or "").split(";")[0].strip().lower()
    if content_type not in ("text/plain", "application/octet-stream", ""):
        raise LineAPIError("The file must be text/plain.", status_code=415)
    return upload


class UploadByFileView(LineAPIView):
    """``POST`` creates an upload audience from a text file; ``PUT`` adds a file's IDs. Django
    parses multipart bodies only for POST; DRF's parser reads the PUT body itself."""

    throttle_scope = "audience"
    parser_classes = [LineMultiPartParser]

    @extend_schema(
        operation_id="createAudienceForUploadingUserIds",
        request={"multipart/form-data": schemas.ByFileCreateSerializer},
        responses={202: schemas.CreateAudienceGroupResponseSerializer},
    )
    def post(self, request):
        upload = _upload_file(request)
        name = (request.data.get("description") or "").strip()
        if not name or len(name) > 120:
            raise LineAPIError(
                "The request has 1 error(s)",
                details=[("size must be between 1 and 120", "description")],
            )
        is_ifa = parse_bool(request.data.get("isIfaAudience"), name="isIfaAudience", default=False)
        audience = services.audience_create_from_ids(
            actor=None,
            account_id=request.auth.account_id,
            name=name,
            id_type=IdType.IFA if is_ifa else IdType.USER_ID,
            ids=upload,
            total_bytes=upload.size,
            description=check_text(
                request.data.get("uploadDescription"), name="uploadDescription", max_length=300
            ),
            route=Audience.Route.MESSAGING_API,
        )
        return Response(created_body(audience), status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        operation_id="addUserIdsToAudience",
        request={"multipart/form-data": schemas.ByFileAddSerializer},
        responses={202: schemas.EmptySerializer},
    )
    def put(self, request):
        upload = _upload_file(request)
        audience_id = parse_int(
            request.data.get("audienceGroupId"), name="audienceGroupId", minimum=1
        )
        if audience_id is None:
            raise LineAPIError(
                "The request has 1 error(s)", details=[("must not be null", "audienceGroupId")]
            )
        audience = own_audience(request, audience_id)
        services.audience_add_ids(
            actor=None, audience_id=audience.pk, ids=upload, total_bytes=upload.size
        )
        return Response({}, status=status.HTTP_202_ACCEPTED)


class AudienceView(LineAPIView):
    """``GET`` and ``DELETE /v2/bot/audienceGroup/{id}``."""

    throttle_scope = "audience"

    @extend_schema(operation_id="getAudienceData", responses=schemas.AudienceDataSerializer)
    def get(self, request, audience_id: int):
        audience = own_audience(request, audience_id)
        data = {"audienceGroup": audience_group(audience), "jobs": []}
        if audience.type in (Audience.Type.CLICK, Audience.Type.IMPRESSION):
            for line in audience.description.splitlines():
                key, _sep, value = line.partition("=")
                if key in ("requestId", "clickUrl") and value:
                    data["audienceGroup"][key] = value
        return Response(data)

    @extend_schema(operation_id="deleteAudienceGroup", responses={200: schemas.EmptySerializer})
    def delete(self, request, audience_id: int):
        audience = own_audience(request, audience_id)
        services.audience_delete(
            actor=None, audience_id=audience.pk, reason="Deleted through the Messaging API"
        )
        return Response({})


class DescriptionSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=120)


class UpdateDescriptionView(LineAPIView):
    """``PUT /v2/bot/audienceGroup/{id}/updateDescription``: rename."""

    throttle_scope = "audience"

    @extend_schema(
        operation_id="updateAudienceGroupDescription",
        request=DescriptionSerializer,
        responses={200: schemas.EmptySerializer},
    )
    def put(self, request, audience_id: int):
        data = _valid(DescriptionSerializer, request.data)
        audience = own_audience(request, audience_id)
        services.audience_rename(
            actor=None,
            audience_id=audience.pk,
            name=data["description"],
            reason="Renamed through the Messaging API",
        )
        return Response({})


class ClickSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=120)
    requestId = serializers.CharField(max_length=100)
    clickUrl = serializers.URLField(max_length=2000, required=False, allow_blank=True)


class ImpSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=120)
    requestId = serializers.CharField(max_length=100)


class TrackingAudienceView(LineAPIView):
    """``POST /v2/bot/audienceGroup/click`` and ``/imp``."""

    throttle_scope = "audience"
    kind = "click"

    @extend_schema(
        request=ClickSerializer, responses={202: schemas.CreateAudienceGroupResponseSerializer}
    )
    def post(self, request):
        data = _valid(ClickSerializer if self.kind == "click" else ImpSerializer, request.data)
        audience = services.audience_create_tracking(
            account_id=request.auth.account_id,
            name=data["description"],
            kind=self.kind,
            request_id=data["requestId"],
            click_url=data.get("clickUrl", ""),
        )
        body = {
            **created_body(audience),
            "type": "CLICK" if self.kind == "click" else "IMP",
            "requestId": data["requestId"],
        }
        if self.kind == "click" and data.get("clickUrl"):
            body["clickUrl"] = data["clickUrl"]
        return Response(body, status=status.HTTP_202_ACCEPTED)


def _page(request, fetch, *, permission_of, read_write_count=None) -> dict:
    """A list page in LINE's shape. ``fetch(page, size, *filters)`` gives ``(rows, total)``;
    ``read_write_count(*filters)`` counts the READ_WRITE audiences of all pages (None: all of
    them are). The filters: name contains, status, create route."""
    page = parse_int(request.query_params.get("page"), name="page", minimum=1, maximum=PAGE_MAX)
    if page is None:
        raise LineAPIError("The request has 1 error(s)", details=[("must not be null", "page")])
    size = parse_int(
        request.query_params.get("size"), name="size", default=20, minimum=1, maximum=40
    )
    status_value = request.query_params.get("status")
    if status_value and status_value not in STATUS_FILTER:
        return {
            "audienceGroups": [],
            "hasNextPage": False,
            "totalCount": 0,
            "readWriteAudienceGroupTotalCount": 0,
            "page": page,
            "size": size,
        }
    route = request.query_params.get("createRoute")
    filters = (
        check_text(request.query_params.get("description"), name="description", max_length=120),
        STATUS_FILTER[status_value] if status_value else "",
        ROUTE_FILTER.get(route, "-") if route else "",
    )
    rows, total = fetch(page, size, *filters)
    groups = [audience_group(a, permission=permission_of(a)) for a in rows]
    if read_write_count is None:
        read_write = total
    elif total <= size:
        read_write = sum(1 for a in rows if permission_of(a) == "READ_WRITE")
    else:
        read_write = read_write_count(*filters)
    return {
        "audienceGroups": groups,
        "hasNextPage": page * size < total,
        "totalCount": total,
        "readWriteAudienceGroupTotalCount": read_write,
        "page": page,
        "size": size,
    }


class AudienceListView(LineAPIView):
    """``GET /v2/bot/audienceGroup/list``: the channel's own audiences, newest first (one
    prepared statement, ``audiences.selectors.own_audience_page``)."""

    throttle_scope = "audience"

    @extend_schema(
        operation_id="getAudienceGroups",
        parameters=schemas.LIST_PARAMETERS
        + [schemas.OpenApiParameter("includesExternalPublicGroups", bool)],
        responses=schemas.AudienceGroupsSerializer,
    )
    def get(self, request):
        parse_bool(
            request.query_params.get("includesExternalPublicGroups"),
            name="includesExternalPublicGroups",
        )
        account_id = request.auth.account_id

        def fetch(page, size, name_contains, status_value, route):
            return selectors.own_audience_page(
                account_id=account_id,
                page=page,
                size=size,
                name_contains=name_contains,
                status=status_value,
                create_route=route,
            )

        return Response(_page(request, fetch, permission_of=lambda a: "READ_WRITE"))


def _owner(audience: Audience) -> dict:
    organization = audience.organization
    return {
        "serviceType": "bm",
        "id": str(organization.pk) if organization else "",
        "name": organization.name if organization else "",
    }


class SharedAudienceView(LineAPIView):
    """``GET /v2/bot/audienceGroup/shared/{id}``: an audience shared with the channel's account
    through Business Manager, with its owner."""

    throttle_scope = "audience"

    @extend_schema(
        operation_id="getSharedAudienceData", responses=schemas.SharedAudienceDataSerializer
    )
    def get(self, request, audience_id: int):
        audience = channel_audience(
            request,
            audience_id,
            via=(selectors.SHARED,),
            with_organization=True,
            refused="This audience group is not shared with this channel.",
        )
        return Response(
            {
                "audienceGroup": audience_group(audience, permission="READ"),
                "jobs": [],
                "owner": _owner(audience),
            }
        )


class SharedAudienceListView(LineAPIView):
    """``GET /v2/bot/audienceGroup/shared/list``."""

    throttle_scope = "audience"

    @extend_schema(
        operation_id="getSharedAudienceGroups",
        parameters=schemas.LIST_PARAMETERS
        + [schemas.OpenApiParameter("includesOwnedAudienceGroups", bool)],
        responses=schemas.AudienceGroupsSerializer,
    )
    def get(self, request):
        account_id = request.auth.account_id
        include_own = parse_bool(
            request.query_params.get("includesOwnedAudienceGroups"),
            name="includesOwnedAudienceGroups",
            default=False,
        )
        queryset = selectors.audiences_shared_with(account_id, include_own=include_own)

        def fetch(page, size, *filters):
            return selectors.audience_page(queryset, page, size, *filters)

        def read_write_count(*filters):
            return (
                selectors.filtered_audiences(queryset, *filters)
                .filter(source_account_id=account_id)
                .count()
            )

        return Response(
            _page(
                request,
                fetch,
                permission_of=lambda a: (
                    "READ_WRITE" if a.source_account_id == account_id else "READ"
                ),
                read_write_count=read_write_count,
            )
        )
