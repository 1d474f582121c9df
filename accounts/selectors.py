from accounts.models import User


def user_by_calendar_secret(*, secret: str) -> User | None:
    if not secret:
        return None
    return User.objects.filter(calendar_secret=secret, is_active=True).first()
