"""Query-string filters of the notification lists, applied by the selectors (smartmate.filtering)."""

import django_filters

from notifications.models import NotificationRecord


class NotificationFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=NotificationRecord.Status.choices)
    channel = django_filters.ChoiceFilter(choices=NotificationRecord.Channel.choices)

    class Meta:
        model = NotificationRecord
        fields = ["status", "channel"]
