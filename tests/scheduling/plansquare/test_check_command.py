"""`manage.py plansquare_check`: counters recomputed from their rows, differences listed, exit 1."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError

from scheduling.plansquare import services
from scheduling.plansquare.models import Post
from tests.scheduling.plansquare.conftest import publish

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


ROOT = Path(__file__).resolve().parents[3]


def check(*args):
    out = StringIO()
    call_command("plansquare_check", *args, stdout=out)
    return out.getvalue()


def test_consistent_counters_pass(user, other):
    post = publish(user)
    services.post_like(user=other, post_id=post.pk)
    services.post_import(user=other, post_id=post.pk)
    services.comment_create(user=other, post_id=post.pk, body="hi")
    assert "ok" in check()


def test_a_counter_that_drifted_is_listed_and_exits_1(user, other):
    post = publish(user)
    services.post_like(user=other, post_id=post.pk)
    Post.objects.filter(pk=post.pk).update(likes=7, comments=2)  # behind the services' back
    with pytest.raises(CommandError) as failed:
        check()
    assert failed.value.returncode == 1
    assert "2 counter differences" in str(failed.value)


def test_fix_writes_the_recomputed_counters(user, other):
    post = publish(user)
    services.post_like(user=other, post_id=post.pk)
    Post.objects.filter(pk=post.pk).update(likes=7, item_count=1)
    out = check("--fix")
    assert f"post {post.pk}: likes stored 7, counted 1" in out
    assert f"post {post.pk}: item_count stored 1, counted 3" in out
    post.refresh_from_db()
    assert (post.likes, post.item_count) == (1, 3)
    assert "ok" in check()


def test_the_command_exits_1_from_the_shell(user):
    post = publish(user)
    Post.objects.filter(pk=post.pk).update(imports=3)
    db = settings.DATABASES["default"]  # the test database this test wrote to
    url = f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
    result = subprocess.run(
        [sys.executable, "manage.py", "plansquare_check"],
        cwd=ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "smartmate.settings_test", "DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert f"post {post.pk}: imports stored 3, counted 0" in result.stdout
