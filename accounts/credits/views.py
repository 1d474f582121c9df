"""`/api/v1/credits/`: the user's balance, ledger and usage, and the prices (thin views)."""

import django_filters
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.credits import selectors
from accounts.credits.models import CreditEntry, EntryKind
from accounts.credits.pricing import price_list
from accounts.credits.serializers import (
    BalanceSerializer,
    CreditEntrySerializer,
    CreditUsageSerializer,
    PriceSerializer,
    UsageQuerySerializer,
)
from smartmate.api import validated


class BalanceView(APIView):
    @extend_schema(responses={200: BalanceSerializer})
    def get(self, request):
        """The credit balance and the free allowance spent before it"""
        return Response(BalanceSerializer(selectors.credit_balance(user=request.user)).data)


class CreditEntryFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices)

    class Meta:
        model = CreditEntry
        fields = ["kind"]


class LedgerViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The ledger, newest first: every change of the balance."""

    serializer_class = CreditEntrySerializer
    filterset_class = CreditEntryFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation, no user
            return CreditEntry.objects.none()
        return selectors.credit_entry_list(user=self.request.user)


class UsageView(APIView):
    @extend_schema(parameters=[UsageQuerySerializer], responses={200: CreditUsageSerializer})
    def get(self, request):
        """Model calls, tokens and credits spent over a range, in total and by model"""
        range_name = validated(UsageQuerySerializer, request.query_params)["range"]
        return Response(CreditUsageSerializer(selectors.credit_usage(user=request.user, range_name=range_name)).data)


class PriceView(APIView):
    @extend_schema(responses={200: PriceSerializer(many=True)})
    def get(self, request):
        """Credits per 1,000 tokens by model"""
        return Response(PriceSerializer(price_list(), many=True).data)
