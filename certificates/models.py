"""Certificates of the Security Whitepaper: each station's certificate requests (A02/A03) from
trigger to installation, and a mirror of the CA certificates each station holds (M03-M05)."""

from django.db import models
from django.utils import timezone

from stations.models import ChargeStation


class CertificateUse(models.TextChoices):
    CENTRAL_SYSTEM_ROOT = "CentralSystemRootCertificate"
    MANUFACTURER_ROOT = "ManufacturerRootCertificate"


class HashAlgorithm(models.TextChoices):
    SHA256 = "SHA256"
    SHA384 = "SHA384"
    SHA512 = "SHA512"


class RequestStatus(models.TextChoices):
    """Where a charge point certificate update stands (docs/adr/0063-certificate-request-lifecycle.md)."""

    AWAITING_CSR = "awaiting_csr", "triggered, awaiting the CSR"
    TRIGGER_REJECTED = "trigger_rejected", "trigger refused by the station"
    TRIGGER_FAILED = "trigger_failed", "trigger not answered"
    REJECTED = "rejected", "CSR rejected"
    PENDING = "pending", "awaiting a signed certificate"
    SIGNING_FAILED = "signing_failed", "signing failed"
    SIGNED = "signed", "signed, not delivered yet"
    SENT = "sent", "sent to the station"
    INSTALLED = "installed", "accepted by the station"
    STATION_REJECTED = "station_rejected", "rejected by the station"
    UNDELIVERED = "undelivered", "delivery failed"
    CANCELLED = "cancelled", "cancelled by an operator"
    SUPERSEDED = "superseded", "superseded by a newer request"


# Requests an operator (or the CA) can still bring to the station.
OPEN_STATUSES = (RequestStatus.AWAITING_CSR, RequestStatus.PENDING, RequestStatus.SIGNING_FAILED,
                 RequestStatus.SIGNED, RequestStatus.UNDELIVERED)
SIGNABLE_STATUSES = (RequestStatus.PENDING, RequestStatus.SIGNING_FAILED)
DELIVERABLE_STATUSES = (RequestStatus.SIGNED, RequestStatus.UNDELIVERED)
CANCELLABLE_STATUSES = (RequestStatus.AWAITING_CSR, RequestStatus.PENDING, RequestStatus.SIGNING_FAILED,
                        RequestStatus.SIGNED, RequestStatus.UNDELIVERED)


class CertificateRequest(models.Model):
    """One charge point certificate update: the trigger (A02), the CSR (SignCertificate), the signed
    chain and the station's answer to CertificateSigned."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="certificate_requests")
    status = models.CharField(max_length=20, choices=RequestStatus.choices)
    detail = models.TextField(blank=True, help_text="Why it was rejected or failed, what it waits for.")
    # A02: the ExtendedTriggerMessage(SignChargePointCertificate) that asked for it; empty for A03.
    trigger_call = models.OneToOneField("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL,
                                        related_name="+")

    # The CSR as received, and what it says.
    csr = models.TextField("CSR", blank=True)
    received_at = models.DateTimeField(null=True, blank=True)
    subject = models.CharField(max_length=500, blank=True)
    common_name = models.CharField(max_length=255, blank=True)
    organization = models.CharField(max_length=255, blank=True)
    key_type = models.CharField(max_length=50, blank=True)
    public_key_sha256 = models.CharField(max_length=64, blank=True)

    # The certificate that answers it.
    certificate_chain = models.TextField(blank=True)
    certificate_serial = models.CharField(max_length=40, blank=True)
    certificate_not_before = models.DateTimeField(null=True, blank=True)
    certificate_not_after = models.DateTimeField(null=True, blank=True)
    signed_by = models.CharField(max_length=300, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    delivery_call = models.OneToOneField("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL,
                                         related_name="+", help_text="The CertificateSigned call.")
    answered_at = models.DateTimeField(null=True, blank=True)

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["station", "status"])]

    def __str__(self) -> str:
        return f"certificate request #{self.pk} of {self.station_id} ({self.status})"


class InstalledCertificate(models.Model):
    """A CA certificate the station holds, as its answers say (docs/adr/0064-installed-certificate-mirror.md)."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="installed_certificates")
    certificate_type = models.CharField(max_length=30, choices=CertificateUse.choices)
    hash_algorithm = models.CharField(max_length=6, choices=HashAlgorithm.choices)
    issuer_name_hash = models.CharField(max_length=128)
    # Empty until the station reports it when the CSMS installed a certificate whose issuer it lacks.
    issuer_key_hash = models.CharField(max_length=128, blank=True)
    serial_number = models.CharField(max_length=40)
    certificate = models.TextField(blank=True, help_text="The PEM, when the CSMS installed or recognised it.")
    subject = models.CharField(max_length=500, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=10, choices=[("reported", "reported by the station"),
                                                      ("installed", "installed by the CSMS")])
    install_call = models.ForeignKey("ocpp.Call", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["station_id", "certificate_type", "id"]

    def __str__(self) -> str:
        return f"{self.certificate_type} {self.serial_number} on {self.station_id}"

    def hash_data(self) -> dict:
        return {"hashAlgorithm": self.hash_algorithm, "issuerNameHash": self.issuer_name_hash,
                "issuerKeyHash": self.issuer_key_hash, "serialNumber": self.serial_number}


class StationCertificates(ChargeStation):
    """A station seen through its certificates in admin."""

    class Meta:
        proxy = True
        verbose_name = "station certificates"
        verbose_name_plural = "stations' certificates"


class CertificateInventory(models.Model):
    """How far the mirror of one certificate type on one station can be trusted."""

    station = models.ForeignKey(ChargeStation, on_delete=models.CASCADE, related_name="certificate_inventories")
    certificate_type = models.CharField(max_length=30, choices=CertificateUse.choices)
    # The last GetInstalledCertificateIds answer: Accepted or NotFound.
    last_status = models.CharField(max_length=10, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    # An InstallCertificate/DeleteCertificate/GetInstalledCertificateIds went unanswered: the station
    # may hold something else than the mirror says until the next successful read.
    uncertain = models.BooleanField(default=False)
    note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["station_id", "certificate_type"]
        constraints = [models.UniqueConstraint(fields=["station", "certificate_type"], name="uniq_certificate_inventory")]

    def __str__(self) -> str:
        return f"{self.certificate_type} on {self.station_id}"
