from accounts.models import User, calendar_secret_digest


def user_by_calendar_secret(*, secret: str) -> User | None:
    if not secret:
        return None
    return User.objects.filter(calendar_secret_hash=calendar_secret_digest(secret), is_active=True).first()
