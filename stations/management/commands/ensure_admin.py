import os
import secrets
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the superuser 'admin' with a random password when the database has no superuser yet."

    def handle(self, *args, **options):
        user_model = get_user_model()
        if user_model.objects.filter(is_superuser=True).exists():
            return
        password = secrets.token_urlsafe(18)
        username = "admin"
        user = user_model.objects.filter(username=username).first()
        if user is None:
            user_model.objects.create_superuser(username=username, email="", password=password)
        else:  # an 'admin' that is not a superuser: promote it with a fresh password
            user.is_staff = user.is_superuser = True
            user.set_password(password)
            user.save()
        path = Path(settings.BASE_DIR) / ".csms-admin-password"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(password + "\n")
        os.chmod(path, 0o600)  # O_CREAT's mode does not apply to a file that already existed
        self.stdout.write(
            f"Created superuser '{username}' with password: {password}\n"
            f"(stored in {path}, readable only by you)"
        )
