"""Per-user limits on the square's writes that others read: posting, commenting, reporting
(docs/DOMAIN.md §10). Each rate is a setting, read per request like smartmate/throttling.py's."""

from smartmate.throttling import SettingsRateThrottle


class _PerUserThrottle(SettingsRateThrottle):
    def get_cache_key(self, request, view):
        if not request.user or not request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": request.user.pk}


class PostingThrottle(_PerUserThrottle):
    scope = "plan_square_post"
    rate_setting = "PLAN_SQUARE_POST_RATE"


class CommentingThrottle(_PerUserThrottle):
    scope = "plan_square_comment"
    rate_setting = "PLAN_SQUARE_COMMENT_RATE"


class ReportingThrottle(_PerUserThrottle):
    scope = "plan_square_report"
    rate_setting = "PLAN_SQUARE_REPORT_RATE"
