"""List filters shared by every app's admin."""

from __future__ import annotations

from django.contrib import admin

from csms.ocpp.schemas import ALL_ACTIONS, CSMS_ACTIONS

# OCPP 1.6 ChargePointErrorCode.
ERROR_CODES = [
    "ConnectorLockFailure", "EVCommunicationError", "GroundFailure", "HighTemperature", "InternalError",
    "LocalListConflict", "NoError", "OtherError", "OverCurrentFailure", "OverVoltage", "PowerMeterFailure",
    "PowerSwitchFailure", "ReaderFailure", "ResetFailure", "UnderVoltage", "WeakSignal",
]


class InputFilter(admin.SimpleListFilter):
    """A text box instead of a list of links: a fleet has too many stations to list them all."""

    template = "admin/csms/input_filter.html"
    placeholder = ""
    lookup = ""

    def lookups(self, request, model_admin):
        return [("", "")]  # a filter without lookups is not shown at all

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return queryset.filter(**{self.lookup: value}) if value else queryset

    def choices(self, changelist):
        others = [(name, value) for name, values in changelist.filter_params.items()
                  if name != self.parameter_name for value in values]
        yield {
            "selected": bool(self.value()),
            "value": self.value() or "",
            "parameter_name": self.parameter_name,
            "placeholder": self.placeholder,
            "hidden": others,
            "clear_query_string": changelist.get_query_string(remove=[self.parameter_name]),
            "display": self.value() or "",
            "query_string": "",
        }


class StationFilter(InputFilter):
    title = "station (chargeBoxId)"
    parameter_name = "station"
    placeholder = "chargeBoxId"
    lookup = "station_id"


class StaticChoicesFilter(admin.SimpleListFilter):
    """Choices known in advance: no SELECT DISTINCT over a table of millions of rows."""

    field_name = ""
    values: list[str] = []

    def lookups(self, request, model_admin):
        return [(value, value) for value in self.values]

    def queryset(self, request, queryset):
        return queryset.filter(**{self.field_name: self.value()}) if self.value() else queryset


class OcppActionFilter(StaticChoicesFilter):
    title = "action"
    parameter_name = "action"
    field_name = "action"
    values = sorted(ALL_ACTIONS)


class CsmsActionFilter(OcppActionFilter):
    values = sorted(CSMS_ACTIONS)


class ErrorCodeFilter(StaticChoicesFilter):
    title = "error code"
    parameter_name = "error_code"
    field_name = "error_code"
    values = ERROR_CODES
