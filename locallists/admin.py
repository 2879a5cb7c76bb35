"""Local authorization lists per station: which tags belong on them, what each station holds, and
the syncs that brought it there. Admin code is one call into a service."""

from django.contrib import admin, messages
from django.db import transaction
from django.db.models import Count
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html

from csms.admin.filters import StationFilter
from csms.admin.presentation import station_link
from csms.errors import DomainError
from csms.ocpp.permissions import may_send_calls

from . import services
from .models import LocalList, LocalListEntry, LocalListSync

STATE_FIELDS = ["version", "entries_known", "last_version_sent", "outdated", "supported", "omitted",
                "last_sync_status", "last_sync_at", "last_sync_detail", "updated_at"]


class LocalListEntryInline(admin.TabularInline):
    model = LocalListEntry
    fields = ["id_tag", "id_tag_info"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name_plural = "entries the station holds"

    def has_add_permission(self, request, obj=None):
        return False


class LocalListSyncInline(admin.TabularInline):
    model = LocalListSync
    fields = ["started_at", "trigger", "requested_by", "status", "calls_sent", "updates_sent", "full_retry", "current_call", "detail", "finished_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["-started_at"]
    verbose_name_plural = "syncs"

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(LocalList)
class LocalListAdmin(admin.ModelAdmin):
    list_display = ["station_column", "selection", "auto_sync", "version", "entry_count", "outdated", "supported",
                    "last_sync_status", "last_sync_at", "omitted"]
    list_filter = [StationFilter, "outdated", "supported", "selection", "auto_sync", "last_sync_status"]
    search_fields = ["=station__id"]
    autocomplete_fields = ["station"]
    filter_horizontal = ["id_tags"]
    inlines = [LocalListEntryInline, LocalListSyncInline]
    actions = ["sync_lists", "read_versions"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(entry_total=Count("entries"))

    @admin.display(description="station", ordering="station_id")
    def station_column(self, local_list: LocalList):
        return station_link(local_list.station_id)

    @admin.display(description="entries", ordering="entry_total")
    def entry_count(self, local_list: LocalList) -> int:
        return getattr(local_list, "entry_total", None) or local_list.entries.count()

    def get_fields(self, request, obj=None):
        chosen = ["station", "selection", "id_tags", "auto_sync"]
        return chosen if obj is None else chosen + STATE_FIELDS

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["station", *STATE_FIELDS]

    def save_model(self, request, obj, form, change):
        # The service saves the explicit tags too, and marks the list out of date when they changed.
        services.local_list_configure(station=obj.station, selection=obj.selection, auto_sync=obj.auto_sync,
                                      id_tags=list(form.cleaned_data["id_tags"]) if "id_tags" in form.cleaned_data else None)
        obj._state.adding = False
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):
        # The selection was saved by the service in save_model: only the inlines are left.
        for formset in formsets:
            self.save_formset(request, form, formset, change=change)

    def has_send_permission(self, request) -> bool:
        return may_send_calls(request.user)

    @admin.action(description="Sync local list with the station (SendLocalList)", permissions=["change", "send"])
    def sync_lists(self, request, queryset):
        for local_list in queryset.select_related("station"):
            self._sync(request, local_list)

    @admin.action(description="Read list version from the station (GetLocalListVersion)", permissions=["change", "send"])
    def read_versions(self, request, queryset):
        for local_list in queryset.select_related("station"):
            self._read_version(request, local_list)

    def _sync(self, request, local_list: LocalList) -> None:
        try:
            sync = services.local_list_sync(station=local_list.station, trigger="admin", requested_by=request.user)
        except DomainError as exc:
            self.message_user(request, f"{local_list.station_id}: {exc.message}", messages.ERROR)
        else:
            link = format_html('<a href="{}">{} #{}</a>', reverse("admin:ocpp_call_change", args=[sync.current_call_id]),
                               sync.current_call.action, sync.current_call_id) if sync.current_call_id else "nothing to send"
            self.message_user(request, format_html("{}: sync {} under way ({}).", local_list.station_id, sync.pk, link),
                              messages.SUCCESS)

    def _read_version(self, request, local_list: LocalList) -> None:
        try:
            with transaction.atomic():
                call = services.local_list_reconcile(station=local_list.station, requested_by=request.user, source="admin")
        except DomainError as exc:
            self.message_user(request, f"{local_list.station_id}: {exc.message}", messages.ERROR)
        else:
            link = format_html('<a href="{}">GetLocalListVersion #{}</a>', reverse("admin:ocpp_call_change", args=[call.pk]), call.pk)
            self.message_user(request, format_html("{}: {} sent.", local_list.station_id, link), messages.SUCCESS)

    def get_urls(self):
        own = [
            path("<path:object_id>/sync/", self.admin_site.admin_view(self.sync_view), name="locallists_locallist_sync"),
            path("<path:object_id>/read-version/", self.admin_site.admin_view(self.read_version_view),
                 name="locallists_locallist_read_version"),
        ]
        return [*own, *super().get_urls()]

    def _object_action(self, request, object_id: str, act):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        local_list = get_object_or_404(self.get_queryset(request).select_related("station"), pk=object_id)
        if self.has_change_permission(request, local_list) and self.has_send_permission(request):
            act(request, local_list)
        return HttpResponseRedirect(reverse("admin:locallists_locallist_change", args=[local_list.pk]))

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_send"] = self.has_send_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)

    def sync_view(self, request, object_id: str):
        return self._object_action(request, object_id, self._sync)

    def read_version_view(self, request, object_id: str):
        return self._object_action(request, object_id, self._read_version)
