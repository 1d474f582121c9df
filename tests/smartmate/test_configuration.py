"""`.env.example` names every variable settings.py reads, and every model is in the admin."""

import re
from pathlib import Path

import pytest
from django.apps import apps
from django.contrib import admin

ROOT = Path(__file__).resolve().parents[2]
PROJECT_APPS = {"accounts", "scheduling", "plansquare", "outbox", "notifications", "agent"}


def test_env_example_lists_every_variable_the_settings_read():
    read = set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', (ROOT / "smartmate" / "settings.py").read_text()))
    listed = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    assert read - listed == set(), "add these to .env.example"


def test_every_model_of_the_project_is_registered_in_the_admin():
    models = [m for m in apps.get_models() if m._meta.app_label in PROJECT_APPS]
    assert models
    unregistered = [m._meta.label for m in models if m not in admin.site._registry]
    assert unregistered == []


@pytest.mark.django_db
def test_every_admin_changelist_opens_for_staff(client, django_user_model):
    staff = django_user_model.objects.create_superuser("root", "root@example.com", "Correct-Horse-9")
    client.force_login(staff)
    for model in admin.site._registry:
        if model._meta.app_label not in PROJECT_APPS:
            continue
        url = f"/admin/{model._meta.app_label}/{model._meta.model_name}/"
        assert client.get(url).status_code == 200, url


@pytest.mark.django_db
def test_admin_refuses_non_staff(client, make_user):
    client.force_login(make_user("plain"))
    response = client.get("/admin/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
