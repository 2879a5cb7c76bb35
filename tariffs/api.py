"""Partner REST API for tariffs (staff): OCPI 2.2.1 Tariff objects with a name and the default flag."""

from __future__ import annotations

from django_filters import rest_framework as filters
from rest_framework import permissions, serializers, viewsets

from . import services
from .engine import DIMENSIONS, WEEKDAYS
from .models import ReservationRestriction, Tariff, TariffType
from .selectors import tariff_document

CLOCK = r"^([0-1][0-9]|2[0-3]):[0-5][0-9]$"
DAY = r"^[12][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"


def _amount(**kwargs) -> serializers.DecimalField:
    return serializers.DecimalField(max_digits=12, decimal_places=6, min_value=0, coerce_to_string=False, **kwargs)


class PriceComponentSerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=DIMENSIONS)
    price = _amount(help_text="Per kWh (ENERGY), per hour (TIME, PARKING_TIME) or per session (FLAT), excl. VAT.")
    vat = serializers.DecimalField(max_digits=5, decimal_places=2, min_value=0, max_value=100, coerce_to_string=False,
                                   required=False, allow_null=True,
                                   help_text="VAT percentage; absent: no VAT applies (not the same as 0).")
    step_size = serializers.IntegerField(min_value=0, default=1,
                                         help_text="Billed in blocks of this many Wh (ENERGY) or seconds.")


class RestrictionsSerializer(serializers.Serializer):
    start_time = serializers.RegexField(CLOCK, required=False, allow_null=True, help_text="HH:MM, local time")
    end_time = serializers.RegexField(CLOCK, required=False, allow_null=True,
                                      help_text="HH:MM, local time; before start_time: wraps past midnight")
    start_date = serializers.RegexField(DAY, required=False, allow_null=True, help_text="YYYY-MM-DD, inclusive")
    end_date = serializers.RegexField(DAY, required=False, allow_null=True, help_text="YYYY-MM-DD, exclusive")
    min_kwh = _amount(required=False, allow_null=True)
    max_kwh = _amount(required=False, allow_null=True)
    min_current = _amount(required=False, allow_null=True, help_text="A, summed over phases")
    max_current = _amount(required=False, allow_null=True, help_text="A, summed over phases")
    min_power = _amount(required=False, allow_null=True, help_text="kW")
    max_power = _amount(required=False, allow_null=True, help_text="kW")
    min_duration = serializers.IntegerField(min_value=0, required=False, allow_null=True, help_text="s")
    max_duration = serializers.IntegerField(min_value=0, required=False, allow_null=True, help_text="s")
    day_of_week = serializers.ListField(child=serializers.ChoiceField(choices=WEEKDAYS), required=False)
    reservation = serializers.ChoiceField(choices=ReservationRestriction.choices, required=False, allow_null=True)


class TariffElementSerializer(serializers.Serializer):
    price_components = PriceComponentSerializer(many=True, allow_empty=False)
    restrictions = RestrictionsSerializer(required=False, allow_null=True)


class PriceSerializer(serializers.Serializer):
    excl_vat = _amount()
    incl_vat = _amount(required=False, allow_null=True)


class DisplayTextSerializer(serializers.Serializer):
    language = serializers.CharField(max_length=2)
    text = serializers.CharField(max_length=512)


class TariffSerializer(serializers.Serializer):
    id = serializers.IntegerField(read_only=True)
    name = serializers.CharField(max_length=100)
    currency = serializers.CharField(min_length=3, max_length=3, help_text="ISO 4217")
    type = serializers.ChoiceField(choices=TariffType.choices, required=False, allow_null=True)
    tariff_alt_text = DisplayTextSerializer(many=True, required=False)
    tariff_alt_url = serializers.URLField(max_length=255, required=False, allow_null=True)
    min_price = PriceSerializer(required=False, allow_null=True)
    max_price = PriceSerializer(required=False, allow_null=True)
    elements = TariffElementSerializer(many=True, allow_empty=False)
    start_date_time = serializers.DateTimeField(required=False, allow_null=True)
    end_date_time = serializers.DateTimeField(required=False, allow_null=True)
    energy_mix = serializers.JSONField(required=False, allow_null=True, help_text="OCPI EnergyMix")
    is_default = serializers.BooleanField(required=False, help_text="Prices stations without a tariff of their own.")
    version = serializers.IntegerField(read_only=True, help_text="Grows with each change; sessions keep theirs.")
    last_updated = serializers.DateTimeField(read_only=True)

    def to_representation(self, tariff: Tariff):
        document = tariff_document(tariff)
        return {
            "id": tariff.pk, "name": tariff.name, "currency": tariff.currency, "type": document.get("type"),
            "tariff_alt_text": document.get("tariff_alt_text", []), "tariff_alt_url": document.get("tariff_alt_url"),
            "min_price": document.get("min_price"), "max_price": document.get("max_price"),
            "elements": document["elements"], "start_date_time": document.get("start_date_time"),
            "end_date_time": document.get("end_date_time"), "energy_mix": document.get("energy_mix"),
            "is_default": tariff.is_default, "version": tariff.current_version.number if tariff.current_version else None,
            "last_updated": document["last_updated"],
        }

    @staticmethod
    def _arguments(data: dict) -> dict:
        """The service's keyword arguments from validated data (OCPI names to ours; JSON-ready elements)."""
        renamed = {"tariff_alt_text": "alt_text", "tariff_alt_url": "alt_url"}
        arguments = {renamed.get(key, key): value for key, value in data.items()}
        if "elements" in arguments:
            arguments["elements"] = [_plain(element) for element in arguments["elements"]]
        for name in ("min_price", "max_price"):
            if arguments.get(name) is not None:
                arguments[name] = dict(arguments[name])
        if "alt_text" in arguments and arguments["alt_text"] is not None:
            arguments["alt_text"] = [dict(text) for text in arguments["alt_text"]]
        return arguments

    def create(self, validated_data):
        return services.tariff_create(**self._arguments(validated_data))

    def update(self, instance, validated_data):
        return services.tariff_update(tariff=instance, **self._arguments(validated_data))


def _plain(value):
    """Validated nested data as plain dicts and lists, without the absent restrictions."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


class TariffFilter(filters.FilterSet):
    class Meta:
        model = Tariff
        fields = ["currency", "is_default"]


class TariffViewSet(viewsets.ModelViewSet):
    serializer_class = TariffSerializer
    filterset_class = TariffFilter
    permission_classes = [permissions.IsAdminUser]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    queryset = Tariff.objects.select_related("current_version").prefetch_related("elements")

    def perform_destroy(self, instance):
        services.tariff_delete(tariff=instance)
