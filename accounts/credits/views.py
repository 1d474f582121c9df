"""`/api/v1/credits/`: the user's balance, ledger and usage, and the prices (thin views)."""

from drf_spectacular.utils import extend_schema
from rest_framework import viewsets
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
from smartmate.filtering import choice_parameter


class BalanceView(APIView):
    @extend_schema(responses={200: BalanceSerializer})
    def get(self, request):
        """The credit balance and the free allowance spent before it"""
        return Response(BalanceSerializer(selectors.credit_balance(user=request.user)).data)


class LedgerViewSet(viewsets.GenericViewSet):
    """The ledger, newest first: every change of the balance."""

    serializer_class = CreditEntrySerializer
    queryset = CreditEntry.objects.none()  # schema only: list reads through the selector

    @extend_schema(parameters=[choice_parameter("kind", EntryKind.choices)])
    def list(self, request):
        entries = selectors.credit_entry_search(user=request.user, filters=request.query_params)
        page = self.paginate_queryset(entries)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


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
