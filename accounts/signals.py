"""Every login of a user ends when the password changes or the account is deactivated, however
that happens: the API, the admin's password form, `manage.py changepassword`, a shell's
`set_password()` and `save()`. Those paths share only `User.save()`, so that is where it is
caught; the revocation itself is `accounts.services.family_revoke_all`, in the save's transaction.
Every other save or delete of a user renews the user's login snapshot (accounts.logins), which
is where authenticated requests read the user from.

Not caught: `User.objects.update(...)`, which sends no signal (nothing in this code base uses it
on passwords or is_active).
"""

from django.db.models.signals import post_delete, post_save, pre_save
from django.dispatch import receiver

from accounts.logins import logins_changed
from accounts.models import User


def _revocation_reason(instance: User, update_fields) -> str | None:
    watched = {"password", "is_active"}
    if instance._state.adding or (update_fields is not None and not watched & set(update_fields)):
        return None
    before = User.objects.filter(pk=instance.pk).values("password", "is_active").first()
    if before is None:
        return None
    if before["is_active"] and not instance.is_active:
        return "deactivated"
    if before["password"] != instance.password:
        # check_password() re-hashes a right password when the hasher's cost went up: it clears
        # set_password's marker and saves the password alone. Same password, no revocation.
        rehash = instance._password is None and update_fields is not None and set(update_fields) == {"password"}
        if not rehash:
            return "password_changed"
    return None


@receiver(pre_save, sender=User, dispatch_uid="accounts.revoke_logins_check")
def _note_credentials_change(sender, instance, raw=False, update_fields=None, **kwargs):
    instance._revoke_logins_reason = None if raw else _revocation_reason(instance, update_fields)


@receiver(post_save, sender=User, dispatch_uid="accounts.revoke_logins")
def _revoke_logins(sender, instance, raw=False, **kwargs):
    reason = getattr(instance, "_revoke_logins_reason", None)
    if reason:
        from accounts.services import family_revoke_all

        instance._revoke_logins_reason = None
        family_revoke_all(user=instance, reason=reason)
    elif not kwargs.get("created"):
        # Any other change of the user: requests read the user from the login snapshot.
        logins_changed(instance.pk)


@receiver(post_delete, sender=User, dispatch_uid="accounts.user_deleted")
def _user_deleted(sender, instance, **kwargs):
    logins_changed(instance.pk)
