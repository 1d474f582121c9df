from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, PolymorphicProxySerializer, extend_schema, extend_schema_view
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from notifications import selectors, services
from notifications.models import ChannelKind, NotificationRecord
from notifications.serializers import (
    ChannelSerializer,
    DeliveredSerializer,
    EmailChannelInputSerializer,
    NotificationSerializer,
    WebhookChannelInputSerializer,
)
from smartmate.api import validated
from smartmate.filtering import choice_parameter
from smartmate.idempotency import idempotent

KIND_PARAMETER = OpenApiParameter(
    "kind", OpenApiTypes.STR, OpenApiParameter.PATH, enum=ChannelKind.values, description="feishu, webhook or email"
)
# One body per kind family: a URL (and secret) for Feishu and webhooks, an address for email.
CHANNEL_INPUT = PolymorphicProxySerializer(
    component_name="ChannelUpdate",
    serializers=[WebhookChannelInputSerializer, EmailChannelInputSerializer],
    resource_type_field_name=None,
)


def _kind(kind: str) -> str:
    if kind not in ChannelKind.values:
        raise NotFound()
    return kind


@extend_schema_view(
    list=extend_schema(responses=ChannelSerializer(many=True)),
    update=extend_schema(parameters=[KIND_PARAMETER], request=CHANNEL_INPUT, responses=ChannelSerializer),
    destroy=extend_schema(parameters=[KIND_PARAMETER], responses={204: None}),
    test=extend_schema(parameters=[KIND_PARAMETER], request=None, responses=DeliveredSerializer),
)
class NotificationChannelViewSet(viewsets.ViewSet):
    """The user's Feishu bot, generic webhook and email address. Secrets are write-only; URLs and
    addresses come back masked."""

    lookup_field = "kind"
    lookup_value_regex = "[^/.]+"

    def list(self, request):
        """The user's notification channels (URLs and addresses masked, secrets never shown)"""
        return Response(ChannelSerializer(selectors.channel_list(user=request.user), many=True).data)

    def update(self, request, kind=None):
        """Set up or replace the channel of a kind"""
        kind = _kind(kind)
        if kind == ChannelKind.EMAIL:
            fields = validated(EmailChannelInputSerializer, request)
        else:
            fields = dict(validated(WebhookChannelInputSerializer, request))  # `secret` left out: kept
        channel = services.channel_upsert(user=request.user, kind=kind, **fields)
        return Response(ChannelSerializer(channel).data)

    def destroy(self, request, kind=None):
        """Remove the channel of a kind"""
        if not services.channel_delete(user=request.user, kind=_kind(kind)):
            raise NotFound()
        return Response(status=status.HTTP_204_NO_CONTENT)

    @action(detail=True, methods=["post"], url_path="test")
    @idempotent()
    def test(self, request, kind=None):
        """Send a test message now"""
        channel = selectors.channel_get(user=request.user, kind=_kind(kind))
        if channel is None:
            raise NotFound()
        services.channel_test(channel=channel)
        return Response({"delivered": True})


class NotificationViewSet(viewsets.GenericViewSet):
    """Delivery records of the user's notifications, newest first."""

    serializer_class = NotificationSerializer
    queryset = NotificationRecord.objects.none()  # schema only: list reads through the selector

    @extend_schema(
        parameters=[
            choice_parameter("status", NotificationRecord.Status.choices),
            choice_parameter("channel", NotificationRecord.Channel.choices),
        ]
    )
    def list(self, request):
        records = selectors.notification_list(user=request.user, filters=request.query_params)
        page = self.paginate_queryset(records)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)
