"""OCPI roaming in the operator's console: the parties (their handshake, endpoints, what they see), the
push log with "retry now", and read-only views of the tokens, sessions, CDRs and commands
(docs/adr/0164-ocpi-admin.md).

No credentials token is ever shown or editable: a partner's page says only whether each one is set
and which kind it is. Token A is shown once, on the page that answers the click that issued it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db.models import Count, Q
from django.template.response import TemplateResponse
from django.utils.html import format_html, format_html_join

from csms.admin.actions import AdminAction, AdminActionsMixin, Outcome, admin_action, change_url
from csms.admin.forms import ConfirmForm
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
    plural,
    pretty_json,
)
from csms.admin.records import ReadOnlyAdmin
from partners.selectors import visible_to

from .credentials import credentials_rotate, register_with, token_a_issue, unregister_with
from .models import (
    CommandState,
    HandshakeState,
    OcpiCdr,
    OcpiCommand,
    OcpiPartner,
    OcpiPush,
    OcpiSession,
    OcpiToken,
    PushStatus,
)
from .pushes import push_retry
from .republish import partner_audience_changed, partner_republish
from .transport import INVALID_PARAMETERS, OcpiError, public_base_url

STATE_COLOURS = {HandshakeState.REGISTERED: GREEN, HandshakeState.AWAITING_REGISTRATION: BLUE,
                 HandshakeState.FAILED: RED, HandshakeState.UNREGISTERED: GREY, HandshakeState.NEW: GREY}
PUSH_COLOURS = {PushStatus.PENDING: ORANGE, PushStatus.DELIVERED: GREEN, PushStatus.FAILED: RED,
                PushStatus.SUPERSEDED: GREY}
COMMAND_COLOURS = {CommandState.WAITING: ORANGE, CommandState.ANSWERED: BLUE, CommandState.DONE: GREEN}
TOKEN_A_TEMPLATE = "admin/ocpi/ocpipartner/token_a.html"
# Where the token A of the last click waits for its one page (the request, never the session).
ISSUED_ATTRIBUTE = "_ocpi_token_a"


def _scoped(request, queryset, partner_field: str):
    """The rows of the partners the user may see (the admin is staff-only, and staff see every one;
    the same rule as the API's, should the console ever open to partner users)."""
    return visible_to(request.user, queryset, partner_field=partner_field)


def partner_link(ocpi_partner_id, text=None):
    return admin_link("ocpipartner", ocpi_partner_id, text, app_label="ocpi")


def party(country_code: str, party_id: str) -> str:
    return f"{country_code}*{party_id}" if party_id else "—"


def role_names(roles) -> str:
    return ", ".join(sorted({role.get("role", "?") for role in roles or () if isinstance(role, dict)})) or "—"


# --- The partner's actions: each calls one service of ocpi.credentials / ocpi.republish ------------------


def _each_partner(work, told: str):
    """A run calling `work(request, partner, form)` per partner: `told` (with {partner} and what work
    returned as {result}) on success, the OCPI refusal as an error naming the partner."""

    def run(modeladmin, request, queryset, form) -> Outcome:
        outcome = Outcome()
        for partner in queryset:
            try:
                result = work(request, partner, form)
            except OcpiError as exc:
                outcome.tell(f"{partner}: {exc.message}", messages.ERROR)
                continue
            outcome.tell(told.format(partner=partner, result=result))
        return outcome

    return run


def _issue_token_a(request, partner, form) -> str:
    # The service would end a registration (the command line's re-registration); here an operator
    # unregisters first, on purpose.
    if partner.state == HandshakeState.REGISTERED:
        raise OcpiError(INVALID_PARAMETERS, "the partner is registered: unregister it first")
    token = token_a_issue(partner=partner)
    setattr(request, ISSUED_ATTRIBUTE, (partner, token))
    return "issued"


class RegisterForm(forms.Form):
    versions_url = forms.URLField(label="Their versions URL", max_length=500,
                                  help_text="The URL of the partner's OCPI versions endpoint.")
    token_a = forms.CharField(label="Their token A", max_length=255, strip=True,
                              widget=forms.PasswordInput(render_value=False),
                              help_text="The token the partner gave us to register with; it is not kept.")


def _register(request, partner, form) -> str:
    registered = register_with(partner=partner, versions_url=form.cleaned_data["versions_url"],
                               token_a=form.cleaned_data["token_a"], base_url=public_base_url(request))
    return party(registered.country_code, registered.party_id)


def _rotate(request, partner, form) -> str:
    credentials_rotate(partner=partner, base_url=public_base_url(request))
    return "rotated"


def _unregister(request, partner, form) -> str:
    before = partner.last_error
    done = unregister_with(partner=partner)
    # Unregistered here even when the partner could not be told: say so.
    return f" here, but {done.last_error}" if done.last_error and done.last_error != before else ""


def _republish(request, partner, form) -> str:
    return plural(partner_republish(partner=partner), "push", "pushes")


def _not_registered(partner) -> bool:
    return partner.state != HandshakeState.REGISTERED


def _registered(partner) -> bool:
    return partner.state == HandshakeState.REGISTERED


def _unregisterable(partner) -> bool:
    return partner.state in (HandshakeState.REGISTERED, HandshakeState.AWAITING_REGISTRATION)


ISSUE_TOKEN_A = AdminAction(
    name="issue_token_a", description="Issue token A…", run=_each_partner(_issue_token_a, "{partner}: token A {result}."),
    permissions=("change",), submit_label="Issue token A", applies=_not_registered,
    intro="A new token A for the partner to register with us, shown once on the next page. "
          "A token A issued before stops working.")
REGISTER = AdminAction(
    name="register_with", description="Register with the partner…", form_class=RegisterForm,
    run=_each_partner(_register, "{partner}: registered as {result}."), permissions=("change",),
    submit_label="Register", applies=_not_registered,
    intro="We read the partner's versions with its token A, send our credentials with a new token for it "
          "and keep the token it answers with.")
ROTATE = AdminAction(
    name="rotate_credentials", description="Rotate credentials…",
    run=_each_partner(_rotate, "{partner}: credentials {result}."), permissions=("change",),
    submit_label="Rotate", applies=_registered,
    intro="New tokens both ways: the partner gets a new token to use with us and answers with a new one.")
UNREGISTER = AdminAction(
    name="unregister", description="Unregister…", run=_each_partner(_unregister, "{partner}: unregistered{result}."),
    permissions=("change",), submit_label="Unregister", applies=_unregisterable,
    intro="The partner's credentials are deleted on its side and its token stops working here.")
REPUBLISH = AdminAction(
    name="republish", description="Re-push everything…",
    run=_each_partner(_republish, "{partner}: {result} queued."), permissions=("change",),
    submit_label="Re-push", applies=_registered,
    intro="Every Location and tariff the partner sees is queued to be sent again (a full PUT each).")


class OcpiPartnerForm(forms.ModelForm):
    class Meta:
        model = OcpiPartner
        fields = ["partner", "visibility", "stations", "realtime_authorization"]


@admin.register(OcpiPartner)
class OcpiPartnerAdmin(AdminActionsMixin, admin.ModelAdmin):
    form = OcpiPartnerForm
    list_display = ["partner_name", "party_column", "roles_column", "state_badge", "registered_at", "pending_pushes",
                    "failed_pushes", "last_error"]
    list_filter = ["state", "visibility"]
    search_fields = ["partner__name", "party_id", "country_code"]
    list_select_related = ["partner"]
    autocomplete_fields = ["partner", "stations"]
    object_actions = [ISSUE_TOKEN_A, REGISTER, ROTATE, UNREGISTER, REPUBLISH]
    actions = [admin_action(REPUBLISH)]
    handshake_fields = ["state_badge", "party_column", "roles_column", "versions_url", "version", "registered_at",
                        "last_error", "tokens", "endpoints_table", "push_summary", "created_at", "updated_at"]

    def get_fieldsets(self, request, obj=None):
        edited = ["partner", "visibility", "stations", "realtime_authorization"]
        if obj is None:
            return [(None, {"fields": edited})]
        return [(None, {"fields": edited}), ("Handshake", {"fields": self.handshake_fields})]

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if change and {"visibility", "stations"} & set(form.changed_data):
            pushes = partner_audience_changed(partner=form.instance)
            if pushes:
                self.message_user(request, f"What {form.instance} sees changed: {pushes} pushes queued.")

    def get_readonly_fields(self, request, obj=None):
        # The organisation is chosen once: the tokens and pushes belong to it.
        return self.handshake_fields + (["partner"] if obj is not None else [])

    def get_queryset(self, request):
        pending = Count("pushes", filter=Q(pushes__status=PushStatus.PENDING))
        failed = Count("pushes", filter=Q(pushes__status=PushStatus.FAILED))
        queryset = super().get_queryset(request).annotate(pending_total=pending, failed_total=failed)
        return _scoped(request, queryset, "partner")

    @admin.display(description="partner", ordering="partner__name")
    def partner_name(self, ocpi_partner):
        return ocpi_partner.partner.name

    @admin.display(description="country*party", ordering="party_id")
    def party_column(self, ocpi_partner):
        return party(ocpi_partner.country_code, ocpi_partner.party_id)

    @admin.display(description="roles")
    def roles_column(self, ocpi_partner):
        return role_names(ocpi_partner.roles)

    @admin.display(description="state", ordering="state")
    def state_badge(self, ocpi_partner):
        return badge(ocpi_partner.get_state_display(), STATE_COLOURS.get(ocpi_partner.state, GREY))

    def _pushes_link(self, ocpi_partner, status: str, count: int):
        if not count:
            return "0"
        return format_html('<a href="{}">{}</a>', changelist_url(
            "ocpipush", app_label="ocpi", partner__id__exact=ocpi_partner.pk, status__exact=status), count)

    @admin.display(description="pending pushes", ordering="pending_total")
    def pending_pushes(self, ocpi_partner):
        return self._pushes_link(ocpi_partner, PushStatus.PENDING, ocpi_partner.pending_total)

    @admin.display(description="failed pushes", ordering="failed_total")
    def failed_pushes(self, ocpi_partner):
        return self._pushes_link(ocpi_partner, PushStatus.FAILED, ocpi_partner.failed_total)

    @admin.display(description="pushes")
    def push_summary(self, ocpi_partner):
        return format_html('{} pending, {} failed — <a href="{}">the push log</a>', ocpi_partner.pending_total,
                           ocpi_partner.failed_total,
                           changelist_url("ocpipush", app_label="ocpi", partner__id__exact=ocpi_partner.pk))

    @admin.display(description="credentials tokens")
    def tokens(self, ocpi_partner):
        # Whether each is set and which kind, never the token itself.
        if not ocpi_partner.incoming_token_digest:
            theirs = "not set"
        elif ocpi_partner.incoming_token_is_a:
            theirs = "set: token A, for it to register"
        else:
            theirs = "set: its credentials token"
        ours = "set" if ocpi_partner.outgoing_token else "not set"
        return format_html("Token it presents to us: {}<br>Token we present to it: {}", theirs, ours)

    @admin.display(description="endpoints")
    def endpoints_table(self, ocpi_partner):
        rows = format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", (
            (item.get("identifier", ""), item.get("role", ""), item.get("url", ""))
            for item in ocpi_partner.endpoints or () if isinstance(item, dict)))
        return format_html("<table><tr><th>identifier</th><th>role</th><th>url</th></tr>{}</table>", rows) \
            if rows else "—"

    def change_view(self, request, object_id, form_url="", extra_context=None):
        ocpi_partner = self.get_object(request, unquote(object_id))
        extra = {**(extra_context or {}), "call_action_links": self.object_action_links(request, ocpi_partner)}
        return super().change_view(request, object_id, form_url, extra_context=extra)

    def object_action_view(self, request, object_id, action_name: str):
        response = super().object_action_view(request, object_id, action_name)
        issued = getattr(request, ISSUED_ATTRIBUTE, None)
        return self.token_a_page(request, *issued) if issued else response

    def token_a_page(self, request, ocpi_partner, token: str) -> TemplateResponse:
        """The one time token A is shown: the answer to the POST that issued it (never stored, and the
        admin's pages are never cached)."""
        context = {**self.admin_site.each_context(request), "title": f"Token A for {ocpi_partner.partner.name}",
                   "subtitle": None, "opts": self.model._meta, "original": ocpi_partner, "token_a": token,
                   "versions_url": public_base_url(request) + "/ocpi/versions",
                   "object_url": change_url(self, ocpi_partner)}
        return TemplateResponse(request, TOKEN_A_TEMPLATE, context)


# --- The push log -------------------------------------------------------------------------------------------


def _retry(modeladmin, request, queryset, form) -> Outcome:
    outcome = Outcome()
    retried = [push for push in queryset.select_related("partner")
               if outcome.attempt(f"push {push.pk}", lambda push=push: push_retry(push=push)) is not None]
    if retried:
        outcome.tell(f"{plural(len(retried), 'push', 'pushes')} due now: the pump sends "
                     f"{'it' if len(retried) == 1 else 'them'} within seconds.")
    return outcome


RETRY = AdminAction(name="retry_now", description="Retry now…", run=_retry, form_class=ConfirmForm,
                    permissions=("retry",), submit_label="Retry now",
                    applies=lambda push: push.status in (PushStatus.PENDING, PushStatus.FAILED),
                    intro="Pending and failed pushes become due at once.")


@admin.register(OcpiPush)
class OcpiPushAdmin(AdminActionsMixin, ReadOnlyAdmin):
    list_display = ["id", "partner_column", "method", "module", "object_key", "status_badge", "attempts",
                    "last_http_status", "last_ocpi_status", "last_error", "created_at", "delivered_at"]
    list_filter = ["partner", "module", "status"]
    search_fields = ["object_key"]
    date_hierarchy = "created_at"
    list_select_related = ["partner__partner"]
    fields = ["partner_column", "method", "module", "object_key", "path", "status_badge", "attempts",
              "next_attempt_at", "last_attempt_at", "last_http_status", "last_ocpi_status", "last_error",
              "created_at", "delivered_at", "body_pretty"]
    readonly_fields = fields
    object_actions = [RETRY]
    actions = [admin_action(RETRY)]

    def get_queryset(self, request):
        return _scoped(request, super().get_queryset(request), "partner__partner")

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("ocpi.change_ocpipartner")

    @admin.display(description="partner", ordering="partner__partner__name")
    def partner_column(self, push):
        return partner_link(push.partner_id, push.partner.partner.name)

    @admin.display(description="status", ordering="status")
    def status_badge(self, push):
        return badge(push.status, PUSH_COLOURS.get(push.status, GREY))

    @admin.display(description="body")
    def body_pretty(self, push):
        return pretty_json(push.body)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        push = self.get_object(request, unquote(object_id))
        extra = {**(extra_context or {}), "call_action_links": self.object_action_links(request, push)}
        return super().change_view(request, object_id, form_url, extra_context=extra)


# --- What partners pushed to us, and what we owe them: records, never edited here ---------------------------


class PartnerRecordAdmin(ReadOnlyAdmin):
    """A record of one partner's: shown to whoever may see that partner, never edited by hand."""

    list_select_related = ["partner__partner"]

    def get_queryset(self, request):
        return _scoped(request, super().get_queryset(request), "partner__partner")

    @admin.display(description="partner", ordering="partner__partner__name")
    def partner_column(self, record):
        return partner_link(record.partner_id, record.partner.partner.name)


@admin.register(OcpiToken)
class OcpiTokenAdmin(PartnerRecordAdmin):
    list_display = ["uid", "type", "party_column", "partner_column", "valid", "whitelist", "id_tag_link",
                    "realtime_allowed", "realtime_checked_at", "last_updated"]
    list_filter = ["partner", "type", "whitelist", "valid"]
    search_fields = ["=uid", "contract_id", "visual_number"]
    fields = ["uid", "type", "party_column", "partner_column", "contract_id", "visual_number", "issuer", "group_id",
              "valid", "whitelist", "language", "default_profile_type", "energy_contract", "id_tag_link",
              "realtime_allowed", "authorization_reference", "realtime_checked_at", "last_updated", "received_at"]
    readonly_fields = fields

    @admin.display(description="country*party", ordering="party_id")
    def party_column(self, token):
        return party(token.country_code, token.party_id)

    @admin.display(description="mirror idTag")
    def id_tag_link(self, token):
        if token.id_tag_id is None:
            return "—"
        return admin_link("idtag", token.id_tag_id, token.id_tag.id_tag, app_label="transactions")

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("id_tag")


@admin.register(OcpiSession)
class OcpiSessionAdmin(PartnerRecordAdmin):
    list_display = ["transaction_link", "partner_column", "auth_method", "authorization_reference", "last_pushed_at",
                    "last_pushed_kwh", "last_updated"]
    list_filter = ["partner", "auth_method"]
    search_fields = ["=transaction__id", "authorization_reference"]
    fields = ["transaction_link", "partner_column", "token", "auth_method", "authorization_reference", "cdr_token_pretty",
              "last_pushed_at", "last_pushed_kwh", "last_updated"]
    readonly_fields = fields

    @admin.display(description="transaction", ordering="transaction_id")
    def transaction_link(self, session):
        return admin_link("transaction", session.transaction_id, app_label="transactions")

    @admin.display(description="CDR token")
    def cdr_token_pretty(self, session):
        return pretty_json(session.cdr_token)


def cdr_total(document) -> str:
    """"12.34 EUR excl. VAT (14.93 incl.)" from the CDR document."""
    total = (document or {}).get("total_cost") or {}
    currency = (document or {}).get("currency", "")
    try:
        excl = Decimal(str(total["excl_vat"]))
    except (KeyError, InvalidOperation, TypeError):
        return "—"
    incl = total.get("incl_vat")
    return f"{excl} {currency} excl. VAT" + (f" ({incl} incl.)" if incl is not None else "")


@admin.register(OcpiCdr)
class OcpiCdrAdmin(PartnerRecordAdmin):
    list_display = ["id", "partner_column", "transaction_link", "total", "last_updated"]
    list_filter = ["partner"]
    search_fields = ["=id", "=transaction__id"]
    date_hierarchy = "last_updated"
    fields = ["id", "partner_column", "transaction_link", "total", "last_updated", "document_pretty"]
    readonly_fields = fields

    @admin.display(description="transaction", ordering="transaction_id")
    def transaction_link(self, cdr):
        return admin_link("transaction", cdr.transaction_id, app_label="transactions")

    @admin.display(description="total")
    def total(self, cdr):
        return cdr_total(cdr.document)

    @admin.display(description="document")
    def document_pretty(self, cdr):
        return pretty_json(cdr.document)


@admin.register(OcpiCommand)
class OcpiCommandAdmin(PartnerRecordAdmin):
    list_display = ["id", "command", "partner_column", "state_badge", "result", "message", "call_column",
                    "created_at", "answered_at", "expires_at"]
    list_filter = ["partner", "command", "state"]
    date_hierarchy = "created_at"
    fields = ["command", "partner_column", "state_badge", "result", "message", "call_column", "response_url",
              "request_pretty", "created_at", "answered_at", "expires_at"]
    readonly_fields = fields

    @admin.display(description="state", ordering="state")
    def state_badge(self, command):
        return badge(command.get_state_display(), COMMAND_COLOURS.get(command.state, GREY))

    @admin.display(description="call")
    def call_column(self, command):
        return call_link(command.call_id)

    @admin.display(description="request")
    def request_pretty(self, command):
        return pretty_json(command.request)

