"""Create (or reuse) a partner organisation as an OCPI partner and print a fresh credentials token A,
on the last line, for the partner to register with (CONTRACT.md)."""

from django.core.management.base import BaseCommand, CommandError

from ocpi.credentials import partner_ensure, token_a_issue
from ocpi.transport import OcpiError, public_base_url


class Command(BaseCommand):
    help = "Create (or reuse) an OCPI partner and print a fresh credentials token A on the last line."

    def add_arguments(self, parser):
        parser.add_argument("partner", help="the partner organisation's name (created when missing)")
        parser.add_argument("--country-code", required=True, help="ISO 3166-1 alpha-2, e.g. NL")
        parser.add_argument("--party-id", required=True, help="3 characters, e.g. EMS")

    def handle(self, *args, partner, country_code, party_id, **options):
        try:
            ocpi_partner = partner_ensure(name=partner, country_code=country_code, party_id=party_id)
            token = token_a_issue(partner=ocpi_partner)
        except OcpiError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"OCPI partner {ocpi_partner.partner.name} ({ocpi_partner.country_code}*"
                          f"{ocpi_partner.party_id}); our versions: {public_base_url()}/ocpi/versions")
        self.stdout.write("Credentials token A (shown once):")
        self.stdout.write(token)
