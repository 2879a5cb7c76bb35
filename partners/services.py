from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token

from .models import Partner, PartnerMember


def partner_of(user) -> Partner | None:
    """The partner a user acts for; None for staff and for users outside any partner."""
    if user is None or not user.is_authenticated:
        return None
    membership = getattr(user, "partner_membership", None)
    return membership.partner if membership else None


@transaction.atomic
def partner_user_create(*, partner_name: str, username: str) -> tuple[Partner, Token]:
    partner, _ = Partner.objects.get_or_create(name=partner_name)
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(username=username)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    PartnerMember.objects.update_or_create(user=user, defaults={"partner": partner})
    token, _ = Token.objects.get_or_create(user=user)
    return partner, token
