from django.core.management.base import BaseCommand

from partners.services import partner_user_create


class Command(BaseCommand):
    help = "Create a partner organisation (when missing) and a user in it; print the user's API token."

    def add_arguments(self, parser):
        parser.add_argument("partner")
        parser.add_argument("username")

    def handle(self, *args, partner, username, **options):
        _, token = partner_user_create(partner_name=partner, username=username)
        self.stdout.write(token.key)
