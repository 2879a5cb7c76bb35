"""Admins of records: what stations reported and what happened, shown and never edited."""

from __future__ import annotations

from django.contrib import admin

from .presentation import online_badge, station_link


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records of what happened: shown, never added or edited by hand.

    Deletion keeps the model permission, so that deleting a station (which cascades here) stays
    possible for whoever may delete stations.
    """

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ConnectionColumnMixin:
    """A `connection` column for the station model (and its proxies): online or offline."""

    @admin.display(description="connection", ordering="online")
    def connection(self, station):
        return online_badge(station.online)


class StationColumnMixin:
    """A `station_id_link` column for any model with a `station` foreign key."""

    @admin.display(description="station", ordering="station_id")
    def station_id_link(self, obj):
        return station_link(obj.station_id)


class MirrorAdmin(ReadOnlyAdmin):
    """What stations hold or answered, mirrored: it changes only through their answers, never by
    hand, not even by deleting a row (the mirror would then lie about the station)."""

    def has_delete_permission(self, request, obj=None):
        return False
