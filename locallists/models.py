from django.conf import settings
from django.db import models
from django.utils import timezone


class Selection(models.TextChoices):
    PARTNER = "partner", "all id tags of the station's partner"
    EXPLICIT = "explicit", "only the id tags chosen here"


class LocalList(models.Model):
    """A station's Local Authorization List: which tags belong on it, and what the station holds as
    far as the CSMS knows (docs/adr/0021-local-list-sync.md)."""

    station = models.OneToOneField(
        "stations.ChargeStation", primary_key=True, on_delete=models.CASCADE, related_name="local_list"
    )
    selection = models.CharField(max_length=10, choices=Selection.choices, default=Selection.PARTNER)
    id_tags = models.ManyToManyField(
        "transactions.IdTag", blank=True, related_name="local_lists", help_text="The tags of an explicit selection."
    )
    auto_sync = models.BooleanField(
        default=True, help_text="Let the periodic job bring the station's list up to date when it is out of date."
    )

    # What the station holds, changed only by its Accepted answers and by GetLocalListVersion.
    version = models.IntegerField(null=True, blank=True, help_text="The list version the station holds; empty when unknown.")
    entries_known = models.BooleanField(
        default=False, help_text="The entries below are exactly what the station holds (a Differential may build on them)."
    )
    # The highest listVersion ever sent: versions only grow, even past failed updates.
    last_version_sent = models.IntegerField(default=0)
    outdated = models.BooleanField(default=True, help_text="The selection or a tag on it changed since the last sync.")
    supported = models.BooleanField(
        null=True, blank=True, help_text="False once the station said it does not support local lists."
    )
    omitted = models.PositiveIntegerField(
        default=0, help_text="Selected tags left off because the station holds at most LocalAuthListMaxLength entries."
    )
    last_sync_status = models.CharField(max_length=20, blank=True, help_text="The station's last SendLocalList answer.")
    last_sync_at = models.DateTimeField(null=True, blank=True)
    last_sync_detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["station_id"]
        verbose_name = "local authorization list"

    def __str__(self) -> str:
        return f"local list of {self.station_id}"


class LocalListEntry(models.Model):
    """One idTag the station holds on its list, with the idTagInfo it was given."""

    local_list = models.ForeignKey(LocalList, on_delete=models.CASCADE, related_name="entries")
    # A string, not a foreign key: the station keeps a tag the CSMS has deleted until told otherwise.
    id_tag = models.CharField("idTag", max_length=20)
    id_tag_info = models.JSONField()

    class Meta:
        ordering = ["id_tag"]
        verbose_name_plural = "local list entries"
        constraints = [models.UniqueConstraint(fields=["local_list", "id_tag"], name="uniq_local_list_entry")]

    def __str__(self) -> str:
        return f"{self.id_tag}: {self.id_tag_info.get('status')}"


class SyncStatus(models.TextChoices):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the station answered Failed (or VersionMismatch) and a Full did not help
    NOT_SUPPORTED = "not_supported"
    ERROR = "error"  # a call got no answer (CallError, timeout, disconnect)


class LocalListSync(models.Model):
    """One run bringing a station's list up to date: a chain of SendLocalList calls, each sent once
    the previous one was Accepted."""

    local_list = models.ForeignKey(LocalList, on_delete=models.CASCADE, related_name="syncs")
    trigger = models.CharField(max_length=10, help_text="api, admin or beat")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=15, choices=SyncStatus.choices, default=SyncStatus.RUNNING)
    # A Differential answered VersionMismatch or Failed is followed by one Full in the same sync.
    full_retry = models.BooleanField(default=False)
    calls_sent = models.PositiveIntegerField(default=0)
    updates_sent = models.PositiveIntegerField(default=0, help_text="SendLocalList calls among them.")
    current_call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    detail = models.CharField(max_length=300, blank=True)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["local_list", "finished_at"])]

    def __str__(self) -> str:
        return f"sync {self.pk} of {self.local_list_id} ({self.status})"
