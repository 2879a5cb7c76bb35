"""Partner organisations and who belongs to them (their API tokens are made by create_partner_user)."""

from django.contrib import admin
from django.db.models import Count
from django.utils.html import format_html

from csms.admin.presentation import changelist_url

from .models import Partner, PartnerMember


class PartnerMemberInline(admin.TabularInline):
    model = PartnerMember
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    list_display = ["name", "stations_link", "id_tags_link", "member_count", "created_at"]
    search_fields = ["name"]
    readonly_fields = ["created_at"]
    inlines = [PartnerMemberInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            station_total=Count("stations", distinct=True),
            id_tag_total=Count("id_tags", distinct=True),
            member_total=Count("members", distinct=True),
        )

    @admin.display(description="stations", ordering="station_total")
    def stations_link(self, partner):
        return format_html('<a href="{}">{}</a>', changelist_url("chargestation", partner__id__exact=partner.pk),
                           partner.station_total)

    @admin.display(description="id tags", ordering="id_tag_total")
    def id_tags_link(self, partner):
        return format_html('<a href="{}">{}</a>',
                           changelist_url("idtag", app_label="transactions", partner__id__exact=partner.pk),
                           partner.id_tag_total)

    @admin.display(description="members", ordering="member_total")
    def member_count(self, partner):
        return partner.member_total


@admin.register(PartnerMember)
class PartnerMemberAdmin(admin.ModelAdmin):
    list_display = ["user", "partner"]
    list_filter = ["partner"]
    search_fields = ["user__username", "partner__name"]
    autocomplete_fields = ["user", "partner"]
    list_select_related = ["user", "partner"]
