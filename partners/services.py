from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.db import transaction
from rest_framework.authtoken.models import Token

from csms.ocpp.permissions import SEND_CALLS

from .models import Partner, PartnerMember


@transaction.atomic
def partner_user_create(*, partner_name: str, username: str) -> tuple[Partner, Token]:
    partner, _ = Partner.objects.get_or_create(name=partner_name)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    PartnerMember.objects.update_or_create(user=user, defaults={"partner": partner})
    # A partner commands its own stations (the partner scoping decides which): it sends Calls.
    app_label, codename = SEND_CALLS.split(".")
    user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    token, _ = Token.objects.get_or_create(user=user)
    return partner, token
