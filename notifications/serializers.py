from rest_framework import serializers

from notifications import channels
from notifications.channels.email import MAX_ADDRESS_LENGTH
from notifications.models import ChannelKind, NotificationChannel, NotificationRecord
from notifications.ssrf import MAX_URL_LENGTH
from smartmate.api import StrictSerializer


class WebhookChannelInputSerializer(StrictSerializer):
    """PUT notification-channels/feishu/ or webhook/."""

    webhook_url = serializers.CharField(max_length=MAX_URL_LENGTH, trim_whitespace=False)
    secret = serializers.CharField(
        required=False,
        allow_blank=True,
        allow_null=True,
        max_length=512,
        trim_whitespace=False,
        write_only=True,
        help_text="Feishu signature secret or HMAC key. Left out: keep the stored one; empty or null: remove it.",
    )
    enabled = serializers.BooleanField(default=True)

    def validate_secret(self, value):
        if value and not value.isprintable():
            raise serializers.ValidationError("The secret must be printable characters.")
        return value


class EmailChannelInputSerializer(StrictSerializer):
    """PUT notification-channels/email/."""

    address = serializers.EmailField(max_length=MAX_ADDRESS_LENGTH)
    enabled = serializers.BooleanField(default=True)


class ChannelSerializer(serializers.ModelSerializer):
    webhook_url = serializers.SerializerMethodField(help_text="Masked after the host; null for email.")
    address = serializers.SerializerMethodField(help_text="The email address, masked; null for the other kinds.")
    has_secret = serializers.BooleanField(read_only=True)
    last_test_error = serializers.SerializerMethodField(help_text="Why the last test failed; null otherwise.")

    class Meta:
        model = NotificationChannel
        fields = [
            "kind",
            "enabled",
            "webhook_url",
            "address",
            "has_secret",
            "last_test_status",
            "last_test_error",
            "last_test_at",
        ]
        read_only_fields = fields

    def get_webhook_url(self, channel) -> str | None:
        return None if channel.kind == ChannelKind.EMAIL else channels.get(channel.kind).mask(channel.webhook_url)

    def get_address(self, channel) -> str | None:
        return channels.get(channel.kind).mask(channel.address) if channel.kind == ChannelKind.EMAIL else None

    def get_last_test_error(self, channel) -> str | None:
        return channel.last_test_error or None


class DeliveredSerializer(serializers.Serializer):
    delivered = serializers.BooleanField()


class NotificationSerializer(serializers.ModelSerializer):
    class Meta:
        model = NotificationRecord
        fields = [
            "id",
            "channel",
            "event",
            "status",
            "attempts",
            "next_retry_at",
            "last_error",
            "preview_id",
            "created_at",
            "sent_at",
        ]
        read_only_fields = fields
