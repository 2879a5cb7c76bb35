"""Django's admin app, with the console's AdminSite as `admin.site` (every `@admin.register` lands
there): the grouped navigation and the dashboard as the front page."""

from django.contrib.admin.apps import AdminConfig


class ConsoleAdminConfig(AdminConfig):
    default_site = "csms.admin.site.ConsoleAdminSite"
