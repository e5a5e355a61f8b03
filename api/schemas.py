"""Response shapes for the OpenAPI document (manage-audience.yml / messaging-api.yml)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers


class AudienceGroupSerializer(serializers.Serializer):
    audienceGroupId = serializers.IntegerField()
    type = serializers.CharField()
    description = serializers.CharField()
    status = serializers.ChoiceField(["IN_PROGRESS", "READY", "FAILED", "EXPIRED"])
    failedType = serializers.CharField(required=False)
    audienceCount = serializers.IntegerField()
    created = serializers.IntegerField()
    permission = serializers.ChoiceField(["READ", "READ_WRITE"])
    createRoute = serializers.CharField()
    isIfaAudience = serializers.BooleanField()


class CreateAudienceGroupResponseSerializer(serializers.Serializer):
    audienceGroupId = serializers.IntegerField()
    createRoute = serializers.CharField()
    type = serializers.CharField()
    description = serializers.CharField()
    created = serializers.IntegerField()
    permission = serializers.CharField()
    expireTimestamp = serializers.IntegerField()
    isIfaAudience = serializers.BooleanField()


class AudienceDataSerializer(serializers.Serializer):
    audienceGroup = AudienceGroupSerializer()
    jobs = serializers.ListField(child=serializers.DictField())


class OwnerSerializer(serializers.Serializer):
    serviceType = serializers.CharField()
    id = serializers.CharField()
    name = serializers.CharField()


class SharedAudienceDataSerializer(AudienceDataSerializer):
    owner = OwnerSerializer()


class AudienceGroupsSerializer(serializers.Serializer):
    audienceGroups = AudienceGroupSerializer(many=True)
    hasNextPage = serializers.BooleanField()
    totalCount = serializers.IntegerField()
    readWriteAudienceGroupTotalCount = serializers.IntegerField()
    page = serializers.IntegerField()
    size = serializers.IntegerField()


class ByFileCreateSerializer(serializers.Serializer):
    description = serializers.CharField(max_length=120)
    isIfaAudience = serializers.BooleanField(required=False)
    uploadDescription = serializers.CharField(required=False)
    file = serializers.FileField()


class ByFileAddSerializer(serializers.Serializer):
    audienceGroupId = serializers.IntegerField()
    uploadDescription = serializers.CharField(required=False)
    file = serializers.FileField()


class EmptySerializer(serializers.Serializer):
    pass


class StatisticsSerializer(serializers.Serializer):
    status = serializers.CharField()
    success = serializers.IntegerField(required=False)


LIST_PARAMETERS = [
    OpenApiParameter("page", OpenApiTypes.INT, required=True),
    OpenApiParameter("description", OpenApiTypes.STR),
    OpenApiParameter(
        "status", OpenApiTypes.STR, enum=["IN_PROGRESS", "READY", "FAILED", "EXPIRED"]
    ),
    OpenApiParameter("size", OpenApiTypes.INT),
    OpenApiParameter(
        "createRoute",
        OpenApiTypes.STR,
        enum=["OA_MANAGER", "MESSAGING_API", "POINT_AD", "AD_MANAGER"],
    ),
]
