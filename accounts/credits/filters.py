"""Query-string filters of the ledger, applied by the selectors (smartmate.filtering)."""

import django_filters

from accounts.credits.models import CreditEntry, EntryKind


class CreditEntryFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=EntryKind.choices)

    class Meta:
        model = CreditEntry
        fields = ["kind"]
