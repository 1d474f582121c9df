"""Keep only a hash of each calendar secret. Existing feed URLs keep working: their secrets are
hashed in place, and the feed looks the hash of the presented secret up."""

import hashlib

from django.db import migrations


def hash_secrets(apps, schema_editor):
    User = apps.get_model("accounts", "User")
    for pk, secret in User.objects.exclude(calendar_secret_hash=None).values_list("pk", "calendar_secret_hash"):
        User.objects.filter(pk=pk).update(calendar_secret_hash=hashlib.sha256(secret.encode()).hexdigest())


class Migration(migrations.Migration):
    dependencies = [("accounts", "0001_initial")]

    operations = [
        migrations.RenameField("user", "calendar_secret", "calendar_secret_hash"),
        # No way back: the secrets are not kept anywhere to restore them.
        migrations.RunPython(hash_secrets, migrations.RunPython.noop),
    ]
