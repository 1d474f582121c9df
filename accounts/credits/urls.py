from django.urls import path

from accounts.credits import views

urlpatterns = [
    path("balance/", views.BalanceView.as_view(), name="credits-balance"),
    path("ledger/", views.LedgerViewSet.as_view({"get": "list"}), name="credits-ledger"),
    path("usage/", views.UsageView.as_view(), name="credits-usage"),
    path("prices/", views.PriceView.as_view(), name="credits-prices"),
]
