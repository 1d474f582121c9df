from accounts.models import TokenFamily, User, calendar_secret_digest


def user_by_calendar_secret(*, secret: str) -> User | None:
    if not secret:
        return None
    return User.objects.filter(calendar_secret_hash=calendar_secret_digest(secret), is_active=True).first()


def live_family(*, family_pk, user_id=None):
    """The login family `family_pk` (of `user_id` when given) with its user, while it is live: not
    revoked and its user active. The one statement of that rule (docs/DOMAIN.md §13): the
    per-request check (accounts.logins) falls back to it and token rotation asks it."""
    if not family_pk:
        return None
    families = TokenFamily.objects.select_related("user").filter(pk=family_pk, revoked_at__isnull=True)
    if user_id is not None:
        families = families.filter(user_id=user_id)
    family = families.first()
    return family if family is not None and family.user.is_active else None
