"""OCPI 2.2.1 roaming, CPO side: the parties we exchange with, what they pushed to us (tokens), what we
owe them (pushes, CDRs, command results) (docs/adr/0160-ocpi-partners-and-transport.md)."""

from __future__ import annotations

import hashlib

from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone


def token_digest(token: str) -> str:
    """How a credentials token we issued is kept: only its SHA-256 (it is shown once, when issued)."""
    return hashlib.sha256(token.encode()).hexdigest()


class HandshakeState(models.TextChoices):
    # Token A issued to them; they have not registered yet.
    AWAITING_REGISTRATION = "awaiting", "token A issued, waiting for them to register"
    REGISTERED = "registered", "registered"
    UNREGISTERED = "unregistered", "unregistered"
    # We tried to register with them (or to update) and it failed: see last_error.
    FAILED = "failed", "failed"
    NEW = "new", "not started"


class Visibility(models.TextChoices):
    PUBLIC = "public", "all published stations"
    CHOSEN = "chosen", "the chosen stations only"


class OcpiPartner(models.Model):
    """An OCPI party (eMSP, hub...) we exchange with: one of our partner organisations, with its
    OCPI identity, its endpoints and the credentials tokens in both directions."""

    partner = models.OneToOneField("partners.Partner", on_delete=models.CASCADE, related_name="ocpi",
                                   help_text="The partner organisation: its id tags are the tokens it pushes, its "
                                             "users see what it sees.")
    country_code = models.CharField(max_length=2, blank=True, help_text="ISO 3166-1 alpha-2, from its credentials.")
    party_id = models.CharField(max_length=3, blank=True, help_text="From its credentials (ISO 15118).")
    roles = models.JSONField(default=list, blank=True, help_text="Its CredentialsRoles, as it sent them.")
    # Where its versions are, the version both sides speak and the endpoints of that version.
    versions_url = models.URLField(max_length=500, blank=True)
    version = models.CharField(max_length=10, blank=True)
    endpoints = models.JSONField(default=list, blank=True, help_text="[{identifier, role, url}] of its version.")
    # The token it presents to us (A before it registers, then the one we gave it): only a digest.
    incoming_token_digest = models.CharField(max_length=64, blank=True, db_index=True, editable=False)
    incoming_token_is_a = models.BooleanField(default=False, editable=False)
    # The token we present to it (its A while we register with it, then the one it gave us).
    outgoing_token = models.CharField(max_length=255, blank=True, editable=False)
    state = models.CharField(max_length=12, choices=HandshakeState.choices, default=HandshakeState.NEW)
    registered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    # Which of our stations it sees (Locations, and the sessions, CDRs and commands on them).
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.PUBLIC)
    stations = models.ManyToManyField("stations.ChargeStation", blank=True, related_name="+",
                                      help_text="With 'the chosen stations only'.")
    # Real-time authorization of a token it never pushed (or whose whitelist says NEVER).
    realtime_authorization = models.BooleanField(
        default=True, help_text="Ask this party (POST tokens/{uid}/authorize) about tokens it never pushed.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OCPI partner"
        ordering = ["partner__name"]

    def __str__(self) -> str:
        party = f"{self.country_code}*{self.party_id}" if self.party_id else "not registered"
        return f"{self.partner.name} ({party})"

    def endpoint(self, identifier: str, role: str = "RECEIVER") -> str | None:
        """The URL of one of its modules in the given role, if it offers it."""
        for item in self.endpoints or ():
            if item.get("identifier") == identifier and item.get("role", role) == role:
                return item.get("url")
        return None


class PushStatus(models.TextChoices):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # given up after CSMS_OCPI_PUSH_RETRY_HOURS
    SUPERSEDED = "superseded"  # a newer push of the same object replaced it before it was sent


class OcpiPush(models.Model):
    """One object pushed to one partner's receiver (PUT/PATCH/POST): the queue row, written in the
    transaction that changed the object, sent after the commit, retried with backoff."""

    partner = models.ForeignKey(OcpiPartner, on_delete=models.CASCADE, related_name="pushes")
    module = models.CharField(max_length=20, help_text="locations, sessions, cdrs, tariffs, commands")
    object_key = models.CharField(max_length=200, help_text="What is pushed, e.g. location id / evse uid.")
    method = models.CharField(max_length=6)
    # Relative to the partner's module endpoint ("/NL/ABC/LOC1"), or an absolute URL (command results).
    path = models.CharField(max_length=500)
    body = models.JSONField(null=True, blank=True)
    # Pushes of one object are sent in order; a PATCH must never overtake the PUT it amends.
    status = models.CharField(max_length=10, choices=PushStatus.choices, default=PushStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_http_status = models.PositiveSmallIntegerField(null=True, blank=True)
    last_ocpi_status = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "OCPI push"
        verbose_name_plural = "OCPI pushes"
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"]),
            models.Index(fields=["partner", "module", "object_key", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.module} {self.object_key} to {self.partner_id} ({self.status})"


class WhitelistType(models.TextChoices):
    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class OcpiToken(models.Model):
    """A token an eMSP pushed to us (or that its real-time authorization told us about). Stations know
    it by its idTag: the mirrored transactions.IdTag (uids longer than an OCPP idTag have none)."""

    partner = models.ForeignKey(OcpiPartner, on_delete=models.CASCADE, related_name="tokens")
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    uid = models.CharField(max_length=36)
    type = models.CharField(max_length=20, help_text="AD_HOC_USER, APP_USER, OTHER, RFID")
    contract_id = models.CharField(max_length=36)
    visual_number = models.CharField(max_length=64, blank=True)
    issuer = models.CharField(max_length=64)
    group_id = models.CharField(max_length=36, blank=True)
    valid = models.BooleanField()
    whitelist = models.CharField(max_length=16, choices=WhitelistType.choices)
    language = models.CharField(max_length=2, blank=True)
    default_profile_type = models.CharField(max_length=20, blank=True)
    energy_contract = models.JSONField(null=True, blank=True)
    last_updated = models.DateTimeField()
    id_tag = models.OneToOneField("transactions.IdTag", null=True, blank=True, on_delete=models.SET_NULL,
                                  related_name="ocpi_token")
    # The last real-time authorization: its answer (AllowedType), reference and time.
    realtime_allowed = models.CharField(max_length=12, blank=True)
    authorization_reference = models.CharField(max_length=36, blank=True)
    realtime_checked_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "OCPI token"
        ordering = ["uid"]
        constraints = [models.UniqueConstraint(fields=["partner", "country_code", "party_id", "uid", "type"],
                                               name="uniq_ocpi_token")]

    def __str__(self) -> str:
        return f"{self.uid} ({self.type}, {self.country_code}*{self.party_id})"


class OcpiSession(models.Model):
    """A transaction that is a partner's OCPI Session: whose token, how it was authorized, and what was
    last pushed."""

    transaction = models.OneToOneField("transactions.Transaction", primary_key=True, on_delete=models.CASCADE,
                                       related_name="ocpi_session")
    partner = models.ForeignKey(OcpiPartner, on_delete=models.CASCADE, related_name="sessions")
    token = models.ForeignKey(OcpiToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cdr_token = models.JSONField(help_text="The CdrToken of the session.")
    auth_method = models.CharField(max_length=20)
    authorization_reference = models.CharField(max_length=36, blank=True)
    last_pushed_at = models.DateTimeField(null=True, blank=True)
    last_pushed_kwh = models.DecimalField(max_digits=16, decimal_places=4, null=True, blank=True)
    last_pushed_cost = models.DecimalField(max_digits=14, decimal_places=4, null=True, blank=True,
                                           help_text="total_cost incl. VAT as last pushed.")
    last_updated = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = "OCPI session"
        ordering = ["-transaction_id"]

    def __str__(self) -> str:
        return f"session {self.transaction_id} of {self.partner_id}"


class OcpiCdr(models.Model):
    """A CDR as issued: never changed once made (a correction would be a new CDR with credit)."""

    id = models.CharField(max_length=39, primary_key=True)
    partner = models.ForeignKey(OcpiPartner, on_delete=models.CASCADE, related_name="cdrs")
    transaction = models.OneToOneField("transactions.Transaction", on_delete=models.CASCADE, related_name="ocpi_cdr")
    document = models.JSONField()
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        verbose_name = "OCPI CDR"
        verbose_name_plural = "OCPI CDRs"
        ordering = ["-last_updated"]

    def __str__(self) -> str:
        return f"CDR {self.id}"


class CommandState(models.TextChoices):
    WAITING = "waiting", "waiting for the station"
    ANSWERED = "answered", "result known, being sent"
    DONE = "done", "result sent"


class OcpiCommand(models.Model):
    """A command an eMSP sent (START_SESSION...): the Call it became and the CommandResult we owe it."""

    partner = models.ForeignKey(OcpiPartner, on_delete=models.CASCADE, related_name="commands")
    command = models.CharField(max_length=20)
    request = models.JSONField()
    response_url = models.URLField(max_length=500)
    call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    state = models.CharField(max_length=10, choices=CommandState.choices, default=CommandState.WAITING)
    result = models.CharField(max_length=30, blank=True, help_text="CommandResultType")
    message = models.CharField(max_length=300, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "OCPI command"
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "expires_at"])]

    def __str__(self) -> str:
        return f"{self.command} from {self.partner_id} ({self.state})"


class OcpiReservation(models.Model):
    """An eMSP's reservation_id (a CiString: case-insensitive) and the reservation of ours it currently
    names (the spec forbids sending its id to the station: ours are unique per CSMS); a RESERVE_NOW
    with the same id for the same location replaces it."""

    partner = models.ForeignKey(OcpiPartner, on_delete=models.CASCADE, related_name="+")
    ocpi_id = models.CharField("reservation_id", max_length=36, help_text="As the eMSP sent it.")
    reservation = models.OneToOneField("reservations.Reservation", on_delete=models.CASCADE, related_name="ocpi")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "OCPI reservation"
        constraints = [models.UniqueConstraint("partner", Upper("ocpi_id"), name="uniq_ocpi_reservation")]

    def __str__(self) -> str:
        return f"{self.ocpi_id} of {self.partner_id}: reservation {self.reservation.pk}"
