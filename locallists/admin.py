"""Local authorization lists per station: which tags belong on them, what each station holds, and
the syncs that brought it there. Admin code is one call into a service."""

from django.contrib import admin
from django.db import transaction
from django.db.models import Count
from django.urls import path
from django.utils.html import format_html

from csms.admin.actions import AdminAction, AdminActionsMixin, Outcome, admin_action, each_call
from csms.admin.filters import StationFilter
from csms.admin.presentation import call_link
from csms.admin.records import StationColumnMixin

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


# --- Actions, from the list and from a list's page (its buttons) ----------------------------------------


def sync(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    for local_list in queryset.select_related("station"):
        started = outcome.attempt(local_list.station_id, lambda local_list=local_list: services.local_list_sync(
            station=local_list.station, trigger="admin", requested_by=request.user))
        if started is not None:
            call_id = started.current_call_id
            link = call_link(call_id, f"{started.current_call.action} #{call_id}") if call_id else "nothing to send"
            outcome.tell(format_html("{}: sync {} under way ({}).", local_list.station_id, started.pk, link))
    return outcome


SYNC = AdminAction(name="sync_lists", description="Sync local list with the station (SendLocalList)",
                   permissions=("change", "send_call"), run=sync)


def reconcile(local_list: LocalList, data: dict, user):
    with transaction.atomic():
        return services.local_list_reconcile(station=local_list.station, requested_by=user, source="admin")


READ_VERSION = AdminAction(
    name="read_versions", description="Read list version from the station (GetLocalListVersion)",
    permissions=("change", "send_call"),
    run=each_call(label=lambda local_list, data: local_list.station_id, send=reconcile, told="{label}: {call} sent."))


@admin.register(LocalList)
class LocalListAdmin(StationColumnMixin, AdminActionsMixin, admin.ModelAdmin):
    list_display = ["station_id_link", "selection", "auto_sync", "version", "entry_count", "outdated", "supported",
                    "last_sync_status", "last_sync_at", "omitted"]
    list_filter = [StationFilter, "outdated", "supported", "selection", "auto_sync", "last_sync_status"]
    search_fields = ["=station__id"]
    autocomplete_fields = ["station"]
    filter_horizontal = ["id_tags"]
    inlines = [LocalListEntryInline, LocalListSyncInline]
    object_actions = [SYNC, READ_VERSION]
    actions = [admin_action(SYNC), admin_action(READ_VERSION)]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(entry_total=Count("entries"))

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

    def get_urls(self):
        # The buttons on a list's page (its template) post here.
        view = self.admin_site.admin_view(self.object_action_view)
        own = [
            path("<path:object_id>/sync/", view, {"action_name": SYNC.name}, name="locallists_locallist_sync"),
            path("<path:object_id>/read-version/", view, {"action_name": READ_VERSION.name},
                 name="locallists_locallist_read_version"),
        ]
        return [*own, *super().get_urls()]

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_send"] = self.has_action_permission(request, SYNC)
        return super().render_change_form(request, context, *args, **kwargs)
