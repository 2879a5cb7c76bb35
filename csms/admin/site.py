"""The console's AdminSite: one navigation grouped by what an operator does (navigation.py) and the
dashboard as the front page (dashboard.py), live over the console socket (live.py)."""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse

from . import navigation
from .dashboard import dashboard_context


class ConsoleAdminSite(admin.AdminSite):
    site_header = "CSMS console"
    site_title = "CSMS console"
    index_title = "Dashboard"
    index_template = "admin/csms/dashboard.html"

    def get_app_list(self, request, app_label=None):
        if app_label is not None:  # an app's own index page keeps Django's listing
            return super().get_app_list(request, app_label)
        return self.navigation(request)

    def navigation(self, request) -> list[dict]:
        """The groups (shaped like Django's app entries, for its templates), without hidden models."""
        groups = {slug: {"name": name, "app_label": f"group-{slug}", "app_url": reverse(f"{self.name}:section", args=[slug]),
                         "has_module_perms": True, "models": []}
                  for slug, name in navigation.GROUPS}
        for app in self._build_app_dict(request).values():
            for model in app["models"]:
                opts = model["model"]._meta
                if navigation.hidden(opts.app_label, opts.model_name):
                    continue
                groups[navigation.group_of(opts.app_label, opts.model_name)]["models"].append(model)
        for group in groups.values():
            group["models"].sort(key=lambda m: navigation.order_key(m["model"]._meta.app_label,
                                                                    m["model"]._meta.model_name, m["name"]))
        return [group for group in groups.values() if group["models"]]

    def get_urls(self):
        return [path("section/<slug:slug>/", self.admin_view(self.section_view), name="section"), *super().get_urls()]

    def section_view(self, request, slug):
        sections = [group for group in self.navigation(request) if group["app_label"] == f"group-{slug}"]
        if not sections:
            raise Http404("No such section.")
        context = {**self.each_context(request), "title": sections[0]["name"], "subtitle": None,
                   "app_list": sections, "app_label": sections[0]["app_label"]}
        request.current_app = self.name
        return TemplateResponse(request, "admin/app_index.html", context)

    def index(self, request, extra_context=None):
        return super().index(request, {**dashboard_context(request.user), **(extra_context or {})})
