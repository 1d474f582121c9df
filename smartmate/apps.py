# The module, not the class: an AppConfig class named in this module would be taken for the
# `smartmate` app's own config.
from django.contrib.admin import apps as admin_apps


class SmartMateAdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with the SmartMate site (smartmate/admin.py) as `admin.site`."""

    default = False  # not the config of the `smartmate` app itself
    default_site = "smartmate.admin.SmartMateAdminSite"
