from django.conf import settings
from django.core.management.base import BaseCommand

from certificates import embedded, signers


class Command(BaseCommand):
    help = ("Create the embedded CA and the CSMS's server certificates when no CA is configured (make run, "
            "docker-compose); say which CA signs stations' certificates.")

    def add_arguments(self, parser):
        parser.add_argument("--hostname", action="append", dest="hostnames",
                            help="a name the server certificates carry (repeatable; default CSMS_TLS_HOSTNAMES)")

    def handle(self, *args, hostnames=None, **options):
        hostnames = hostnames or settings.CSMS_TLS_HOSTNAMES
        if settings.CSMS_CERT_SIGNER or (settings.CSMS_CA_CERT_FILE and settings.CSMS_CA_KEY_FILE):
            self.stdout.write(f"Stations' certificates are signed by {signers.configured_signer().name} "
                              "(configured): no embedded CA made.")
            return
        for made in embedded.ca_ensure(hostnames=hostnames):
            self.stdout.write(f"Created {made}")
        auto = "automatically" if settings.CSMS_CERT_AUTO_SIGN else "when an operator asks (CSMS_CERT_AUTO_SIGN=0)"
        self.stdout.write(f"Stations' certificates are signed {auto} by the embedded CA in {embedded.paths().directory}")
