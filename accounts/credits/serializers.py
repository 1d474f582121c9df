from rest_framework import serializers

from accounts.credits.models import CreditEntry
from accounts.credits.selectors import USAGE_RANGES
from smartmate.api import StrictSerializer


class FreeAllowanceSerializer(serializers.Serializer):
    limit = serializers.IntegerField()
    used = serializers.IntegerField()
    resets_at = serializers.DateTimeField(allow_null=True)


class BalanceSerializer(serializers.Serializer):
    balance = serializers.IntegerField()
    free_allowance = FreeAllowanceSerializer(help_text="The weekly token allowance spent before credits")
    updated_at = serializers.DateTimeField(allow_null=True)


class CreditEntrySerializer(serializers.ModelSerializer):
    class Meta:
        model = CreditEntry
        fields = ("id", "kind", "amount", "balance_after", "reason", "ref", "created_at")


class UsageQuerySerializer(StrictSerializer):
    range = serializers.ChoiceField(choices=list(USAGE_RANGES), default="7d")


class CreditModelUsageSerializer(serializers.Serializer):
    model = serializers.CharField()
    calls = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    credits_spent = serializers.IntegerField()


class CreditUsageSerializer(serializers.Serializer):
    range = serializers.ChoiceField(choices=list(USAGE_RANGES))
    calls = serializers.IntegerField()
    prompt_tokens = serializers.IntegerField()
    completion_tokens = serializers.IntegerField()
    credits_spent = serializers.IntegerField()
    by_model = CreditModelUsageSerializer(many=True)


class PriceSerializer(serializers.Serializer):
    model = serializers.CharField(help_text="A model id; `default` prices every model not listed")
    prompt_per_1k = serializers.FloatField(help_text="Credits per 1,000 prompt tokens")
    completion_per_1k = serializers.FloatField(help_text="Credits per 1,000 completion tokens")
