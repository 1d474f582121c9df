"""Per-user limits on the square's writes that others read: posting, commenting, reporting
(docs/DOMAIN.md §10). Each rate is a setting, read per request like smartmate/throttling.py's."""

from smartmate.throttling import UserWindowRateThrottle


class PostingThrottle(UserWindowRateThrottle):
    scope = "plan_square_post"
    rate_setting = "PLAN_SQUARE_POST_RATE"


class CommentingThrottle(UserWindowRateThrottle):
    scope = "plan_square_comment"
    rate_setting = "PLAN_SQUARE_COMMENT_RATE"


class ReportingThrottle(UserWindowRateThrottle):
    scope = "plan_square_report"
    rate_setting = "PLAN_SQUARE_REPORT_RATE"
