"""Transactions, meter values and id tags in the operator's console.

Transactions and meter values are what stations reported: shown, never edited. Id tags are the
operator's to manage; their writes go through transactions.id_tags so that local lists follow.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.timezone import localtime

from csms.admin.actions import (
    OFFLINE_NOT_SENT,
    AdminActionsMixin,
    Refusal,
    Target,
    TargetLine,
    admin_action,
    call_action,
)
from csms.admin.filters import InputFilter, StationFilter
from csms.admin.outcomes import led_to
from csms.admin.presentation import (
    BLUE,
    GREEN,
    GREY,
    ORANGE,
    RED,
    admin_link,
    badge,
    call_link,
    changelist_url,
    fragment_id,
    live_fragment,
    live_watches,
    number,
    plural,
    pretty_json,
)
from csms.admin.records import ReadOnlyAdmin, StationColumnMixin
from csms.errors import DomainError

from console.selectors import power_now_by_transaction, transaction_series
from tariffs.selectors import transaction_cost, transactions_with_cost

from .id_tags import id_tag_case_duplicates, id_tag_create, id_tag_delete, id_tag_update, id_tag_validate_new
from .models import AuthorizationStatus, IdTag, MeterValue, Transaction, UnmatchedStopTransaction
from .services import REMOTE_START_WINDOW

# --- Remote stop --------------------------------------------------------------------------------------


def transaction_label(tx: Transaction) -> str:
    return f"transaction #{tx.pk} on {tx.station_id}"


def remote_stop_plan(queryset, payload: dict):
    for tx in queryset:
        if not tx.active:
            yield Refusal(transaction_label(tx), "it has already ended")
        else:
            yield Target(tx.station_id, transaction_label(tx), {"transactionId": tx.pk}, {"transaction_id": tx.pk})


def describe_transaction(tx: Transaction) -> TargetLine:
    return TargetLine(f"{transaction_label(tx)}, connector {tx.connector_id}, idTag {tx.id_tag}",
                      "" if tx.station.online else OFFLINE_NOT_SENT)


REMOTE_STOP = call_action("remote_stop_transaction", "RemoteStopTransaction", "Stop remotely (RemoteStopTransaction)…",
                          plan=remote_stop_plan, describe=describe_transaction, applies=lambda tx: tx.active)


# --- Transactions ----------------------------------------------------------------------------------------


class ActiveFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "active"

    def lookups(self, request, model_admin):
        return [("1", "running"), ("0", "ended")]

    def queryset(self, request, queryset):
        if self.value() == "1":
            return queryset.filter(stopped_at__isnull=True)
        if self.value() == "0":
            return queryset.filter(stopped_at__isnull=False)
        return queryset


class IdTagFilter(InputFilter):
    title = "idTag"
    parameter_name = "id_tag"
    placeholder = "idTag"
    lookup = "id_tag"


@admin.register(Transaction)
class TransactionAdmin(StationColumnMixin, AdminActionsMixin, ReadOnlyAdmin):
    object_actions = [REMOTE_STOP]
    actions = [admin_action(REMOTE_STOP)]
    # Few enough columns for a 1,400 px screen: the tag with its status, the state with its reason.
    list_display = ["id", "station_connector", "tag", "times", "energy_live", "cost_display", "state_live"]
    list_display_links = ["id"]
    list_filter = [ActiveFilter, StationFilter, IdTagFilter, "id_tag_status", "stop_reason", "stop_tag_mismatch"]
    search_fields = ["=id", "=station__id", "=id_tag"]
    search_help_text = "Exact transactionId, chargeBoxId or idTag"
    date_hierarchy = "started_at"
    fields = ["id", "station_id_link", "connector_id", "id_tag", "tag_status", "reservation_id", "state",
              "meter_start", "started_at", "meter_last_display", "meter_last_at", "meter_stop", "stopped_at", "energy",
              "stop_reason", "stop_id_tag", "stop_tag_mismatch", "cost_display", "tariff_link", "cost_breakdown",
              "remote_start", "created_at", "updated_at"]
    readonly_fields = fields

    def get_queryset(self, request):
        return transactions_with_cost(super().get_queryset(request).select_related("station"))

    def get_search_results(self, request, queryset, search_term):
        # "=id" with a word would be an invalid integer lookup: search the text fields only then.
        if search_term and not search_term.strip().isdigit():
            return queryset.filter(Q(station_id=search_term.strip()) | Q(id_tag__iexact=search_term.strip())), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="tag status", ordering="id_tag_status")
    def tag_status(self, tx):
        return badge(tx.id_tag_status, GREEN if tx.id_tag_status == AuthorizationStatus.ACCEPTED else RED)

    @admin.display(description="state", ordering="stopped_at")
    def state(self, tx):
        if tx.active:
            return badge("running", BLUE)
        if tx.stop_tag_mismatch:
            return badge("stopped by another tag", ORANGE)
        return badge("ended", GREY)

    @admin.display(description="station / connector", ordering="station_id")
    def station_connector(self, tx):
        return format_html("{}&nbsp;/&nbsp;{}", self.station_id_link(tx), tx.connector_id)

    @admin.display(description="started → stopped (station time)", ordering="started_at")
    def times(self, tx):
        stopped = date_format(localtime(tx.stopped_at), "DATETIME_FORMAT") if tx.stopped_at else "running"
        return format_html("{}<br>→ {}", date_format(localtime(tx.started_at), "DATETIME_FORMAT"), stopped)

    @admin.display(description="idTag", ordering="id_tag")
    def tag(self, tx):
        return format_html("{} {}", tx.id_tag, self.tag_status(tx))

    @admin.display(description="state", ordering="stopped_at")
    def state_live(self, tx):
        reason = f" ({tx.stop_reason})" if tx.stop_reason else ""
        return live_fragment(format_html("{}{}", self.state(tx), reason), fragment_id("tx-state", tx.pk),
                             ("transaction", tx.pk))

    @admin.display(description="energy (Wh)")
    def energy(self, tx):
        return number(tx.energy_wh)

    @admin.display(description="energy (Wh)")
    def energy_live(self, tx):
        return live_fragment(self.energy(tx), fragment_id("tx-energy", tx.pk), ("transaction", tx.pk))

    @admin.display(description="meter last (Wh)")
    def meter_last_display(self, tx):
        return number(tx.meter_last)

    @admin.display(description="cost", ordering="cost_record__cost_incl_vat")
    def cost_display(self, tx):
        cost = transaction_cost(tx)
        if cost.cost_incl_vat is None:
            return "—"
        # A running session's cost is an estimate until StopTransaction prices it for good.
        return f"{cost.cost_incl_vat} {cost.currency}" + ("" if cost.final else " (so far)")

    @admin.display(description="tariff")
    def tariff_link(self, tx):
        cost = transaction_cost(tx)
        if cost.tariff_version is None:
            return "—"
        text = f"tariff #{cost.tariff_id}, version {cost.tariff_version}"
        return admin_link("tariff", cost.tariff_id, text, app_label="tariffs") if cost.tariff_id else text

    @admin.display(description="cost breakdown")
    def cost_breakdown(self, tx):
        cost = transaction_cost(tx)
        if not cost.breakdown:
            return "—"
        rows = format_html_join("", "<tr><td>{}</td><td>{} {}</td><td>{}</td><td>{}</td></tr>", (
            (name, part["quantity"], part["unit"], part["cost_excl_vat"], part["cost_incl_vat"])
            for name, part in cost.breakdown["dimensions"].items()))
        adjustment = cost.breakdown.get("adjustment")
        note = format_html("<p>{} applied: {} excl. VAT</p>", adjustment["applied"], adjustment["cost_excl_vat"]) \
            if adjustment else ""
        return format_html("<table><tr><th>dimension</th><th>billed</th><th>excl. VAT</th><th>incl. VAT</th></tr>"
                           "{}<tr><th>total</th><td></td><th>{}</th><th>{}</th></tr></table>{}",
                           rows, cost.cost_excl_vat, cost.cost_incl_vat, note)

    @admin.display(description="remote start")
    def remote_start(self, tx):
        return call_link(tx.remote_start_call_id)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        tx = self.get_object(request, unquote(object_id))
        extra = dict(extra_context or {})
        if tx is not None:
            extra["call_action_links"] = self.object_action_links(request, tx)
            extra["live"] = live_watches(("transaction", tx.pk))
            extra["chart"] = {"series": transaction_series(tx)}
            extra["power_now"] = power_now_by_transaction([tx.pk]).get(tx.pk) if tx.active else None
            extra["meter_values"] = list(tx.meter_values.order_by("-timestamp", "-id")[:50])
            extra["meter_value_count"] = tx.meter_values.count()
            extra["meter_values_url"] = changelist_url("metervalue", app_label="transactions", transaction=tx.pk)
            extra["remote_stops"] = list(tx.station.calls.filter(action="RemoteStopTransaction",
                                                                 payload__transactionId=tx.pk).order_by("-id")[:5])
        return super().change_view(request, object_id, form_url, extra_context=extra)


class TransactionIdFilter(InputFilter):
    title = "transactionId"
    parameter_name = "transaction"
    placeholder = "transactionId"
    lookup = "transaction_id"

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(transaction_id=int(value)) if value.isdigit() else queryset


@admin.register(MeterValue)
class MeterValueAdmin(StationColumnMixin, ReadOnlyAdmin):
    # Newest first, and few enough columns for a 1,400 px screen (phase with its measurand, unit with its value).
    list_display = ["timestamp", "station_id_link", "connector_id", "transaction_link", "measurand_phase",
                    "reading", "context", "location", "source", "received_at"]
    list_display_links = ["timestamp"]
    ordering = ["-timestamp", "-id"]
    list_filter = [StationFilter, TransactionIdFilter, "measurand", "context", "phase", "location", "unit", "source"]
    date_hierarchy = "timestamp"
    show_full_result_count = False

    @admin.display(description="measurand", ordering="measurand")
    def measurand_phase(self, sample):
        return f"{sample.measurand} ({sample.phase})" if sample.phase else sample.measurand

    @admin.display(description="value")
    def reading(self, sample):
        value = sample.value if len(sample.value) <= 40 else sample.value[:40] + "…"
        return f"{value} {sample.unit}" if sample.format != "SignedData" else f"{value} (signed)"

    @admin.display(description="transaction", ordering="transaction_id")
    def transaction_link(self, sample):
        if sample.transaction_id is None:
            return f"({sample.reported_transaction_id})" if sample.reported_transaction_id is not None else "—"
        return admin_link("transaction", sample.transaction_id, f"#{sample.transaction_id}", app_label="transactions")


@admin.register(UnmatchedStopTransaction)
class UnmatchedStopTransactionAdmin(StationColumnMixin, ReadOnlyAdmin):
    """StopTransactions for a transactionId the CSMS does not know: answered, and kept here."""

    list_display = ["received_at", "station_id_link", "transaction_id", "id_tag", "meter_stop", "timestamp", "reason"]
    list_display_links = ["received_at"]
    list_filter = [StationFilter, "reason"]
    search_fields = ["=transaction_id", "=id_tag"]
    date_hierarchy = "received_at"
    fields = ["received_at", "station_id_link", "transaction_id", "id_tag", "meter_stop", "timestamp", "reason",
              "transaction_data_pretty"]
    readonly_fields = fields

    def get_search_results(self, request, queryset, search_term):
        if search_term and not search_term.strip().isdigit():
            return queryset.filter(id_tag__iexact=search_term.strip()), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="transaction data")
    def transaction_data_pretty(self, record):
        return pretty_json(record.transaction_data)


# --- Id tags -------------------------------------------------------------------------------------------------


class ExpiryFilter(admin.SimpleListFilter):
    title = "expiry"
    parameter_name = "expired"

    def lookups(self, request, model_admin):
        return [("1", "expired"), ("0", "valid")]

    def queryset(self, request, queryset):
        now = timezone.now()
        if self.value() == "1":
            return queryset.filter(expiry_date__lt=now)
        if self.value() == "0":
            return queryset.filter(Q(expiry_date__isnull=True) | Q(expiry_date__gte=now))
        return queryset


ID_TAG_FIELDS = ["parent_id_tag", "partner", "expiry_date", "blocked", "max_active_transactions", "offline_allowed",
                 "description"]


class IdTagAdminForm(forms.ModelForm):
    class Meta:
        model = IdTag
        fields = "__all__"

    def clean_id_tag(self):
        value = self.cleaned_data["id_tag"]
        if self.instance.pk is None:
            try:
                id_tag_validate_new(value)
            except DomainError as exc:
                raise forms.ValidationError(exc.message) from None
        return value


@admin.register(IdTag)
class IdTagAdmin(admin.ModelAdmin):
    form = IdTagAdminForm
    list_display = ["id_tag", "parent_id_tag", "partner", "state", "expiry_date", "max_active_transactions",
                    "description", "transactions_link"]
    list_filter = ["blocked", ExpiryFilter, "partner"]
    search_fields = ["id_tag", "parent_id_tag", "description"]
    list_select_related = ["partner"]
    fields = ["id_tag", *ID_TAG_FIELDS, "created_at", "updated_at"]
    readonly_fields = ["created_at", "updated_at"]
    actions = ["block", "unblock"]

    @admin.display(description="state")
    def state(self, tag):
        if tag.blocked or tag.max_active_transactions == 0:
            return badge("blocked", RED)
        if tag.expiry_date and tag.expiry_date < timezone.now():
            return badge("expired", ORANGE)
        return badge("valid", GREEN)

    @admin.display(description="transactions")
    def transactions_link(self, tag):
        return format_html('<a href="{}">transactions</a>',
                           changelist_url("transaction", app_label="transactions", id_tag=tag.id_tag))

    def save_model(self, request, obj, form, change):
        fields = {name: getattr(obj, name) for name in ID_TAG_FIELDS}
        if change:
            id_tag_update(id_tag=obj, **fields)
        else:
            created = id_tag_create(id_tag=obj.id_tag, **fields)
            obj.pk, obj.created_at, obj.updated_at = created.pk, created.created_at, created.updated_at
            obj._state.adding = False

    def delete_model(self, request, obj):
        id_tag_delete(id_tag=obj)

    def changelist_view(self, request, extra_context=None):
        duplicates = id_tag_case_duplicates()
        if duplicates and request.method == "GET":
            groups = "; ".join(", ".join(spellings) for spellings in list(duplicates.values())[:10])
            self.message_user(request, f"{len(duplicates)} group(s) of id tags differ only in case, and idTags are "
                                       f"case-insensitive: {groups}. Merge or delete them.", messages.WARNING)
        return super().changelist_view(request, extra_context)

    def delete_queryset(self, request, queryset):
        for tag in queryset:
            id_tag_delete(id_tag=tag)

    @admin.action(description="Block the selected id tags", permissions=["change"])
    def block(self, request, queryset):
        for tag in queryset:
            id_tag_update(id_tag=tag, blocked=True)
        self.message_user(request, f"Blocked {plural(queryset.count(), 'id tag')}.", messages.SUCCESS)

    @admin.action(description="Unblock the selected id tags", permissions=["change"])
    def unblock(self, request, queryset):
        for tag in queryset:
            id_tag_update(id_tag=tag, blocked=False)
        self.message_user(request, f"Unblocked {plural(queryset.count(), 'id tag')}.", messages.SUCCESS)


@led_to("RemoteStartTransaction")
def remote_start_led_to(call):
    """The transaction a RemoteStartTransaction started, once the station reported it."""
    started = Transaction.objects.filter(remote_start_call_id=call.pk).first()
    if started is None:
        if call.status != "completed" or (call.response or {}).get("status") != "Accepted":
            return "no transaction: the station did not accept the request"
        if call.completed_at and timezone.now() - call.completed_at > REMOTE_START_WINDOW:
            return (f"no transaction started within {int(REMOTE_START_WINDOW.total_seconds() // 60)} minutes "
                    "(the EV was not plugged in, or the station refused the tag)")
        return "no transaction started yet (this page updates itself when it starts)"
    return admin_link("transaction", started.pk, f"transaction #{started.pk}", app_label="transactions")
