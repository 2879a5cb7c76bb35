"""What the commands module keeps beyond OcpiCommand: which of our reservations an eMSP's
reservation_id names (the spec forbids sending its id to the station: ours are unique per CSMS)."""

from __future__ import annotations

from django.db import models
from django.db.models.functions import Upper


class OcpiReservation(models.Model):
    """An eMSP's reservation_id (a CiString: case-insensitive) and the reservation it currently names;
    a RESERVE_NOW with the same id for the same location replaces it."""

    partner = models.ForeignKey("ocpi.OcpiPartner", on_delete=models.CASCADE, related_name="+")
    ocpi_id = models.CharField("reservation_id", max_length=36, help_text="As the eMSP sent it.")
    reservation = models.OneToOneField("reservations.Reservation", on_delete=models.CASCADE, related_name="ocpi")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        app_label = "ocpi"
        verbose_name = "OCPI reservation"
        constraints = [models.UniqueConstraint("partner", Upper("ocpi_id"), name="uniq_ocpi_reservation")]

    def __str__(self) -> str:
        return f"{self.ocpi_id} of {self.partner_id}: reservation {self.reservation.pk}"
