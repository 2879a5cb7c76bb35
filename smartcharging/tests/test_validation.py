"""Profile validation rules (pure: no database)."""

from datetime import datetime, timezone
from decimal import Decimal

import pytest

from smartcharging.composite import Period
from smartcharging.validation import StationLimits, assignment_errors, profile_errors, station_limit_errors

UTC = timezone.utc


def errors_of(periods=((0, "16"),), **fields):
    base = dict(kind="Absolute", recurrency_kind=None, valid_from=None, valid_to=None, duration=None,
                min_charging_rate=None)
    base.update(fields)
    return profile_errors(periods=[Period(p[0], Decimal(p[1]), p[2] if len(p) > 2 else None) for p in periods], **base)


@pytest.mark.parametrize("fields, field, reason", [
    (dict(periods=()), "periods", "at least one period"),
    (dict(periods=((60, "16"),)), "periods", "first period must start at 0"),
    (dict(periods=((0, "16"), (600, "10"), (600, "8"))), "periods", "strictly ascend"),
    (dict(periods=((0, "16"), (600, "10"), (300, "8"))), "periods", "strictly ascend"),
    (dict(periods=((0, "0.15"),)), "periods", "limit 0.15 is not a multiple of 0.1"),
    (dict(periods=((0, "-1"),)), "periods", "must not be negative"),
    (dict(periods=((0, "16", 4),)), "periods", "number_phases 4"),
    (dict(kind="Recurring"), "recurrency_kind", "needs recurrency_kind"),
    (dict(kind="Absolute", recurrency_kind="Daily"), "recurrency_kind", "only for Recurring"),
    (dict(kind="Relative", recurrency_kind="Weekly"), "recurrency_kind", "only for Recurring"),
    (dict(valid_from=datetime(2025, 1, 2, tzinfo=UTC), valid_to=datetime(2025, 1, 1, tzinfo=UTC)), "valid_to", "after"),
    (dict(duration=0), "duration", "positive"),
    (dict(min_charging_rate=Decimal("0.05")), "min_charging_rate", "multiple of 0.1"),
])
def test_refused(fields, field, reason):
    errors = errors_of(**fields)
    assert field in errors and reason in errors[field], errors


@pytest.mark.parametrize("fields", [
    dict(),
    dict(periods=((0, "0.3"), (60, "7.7"), (120, "32.3"), (180, "11000"))),  # 0.3 is fine in Decimal
    dict(kind="Recurring", recurrency_kind="Weekly", duration=3600),
    dict(min_charging_rate=Decimal("6.1"), periods=((0, "16", 1), (300, "0"))),
    dict(valid_from=datetime(2025, 1, 1, tzinfo=UTC), valid_to=datetime(2025, 1, 2, tzinfo=UTC)),
])
def test_accepted(fields):
    assert errors_of(**fields) == {}


@pytest.mark.parametrize("purpose, connector_id, has_tx, field", [
    ("ChargePointMaxProfile", 1, False, "connector_id"),
    ("TxProfile", 0, True, "connector_id"),
    ("TxProfile", 1, False, "transaction_id"),
    ("ChargePointMaxProfile", 0, False, None),
    ("TxDefaultProfile", 0, False, None),
    ("TxDefaultProfile", 2, False, None),
    ("TxProfile", 1, True, None),
])
def test_where_a_profile_may_go(purpose, connector_id, has_tx, field):
    errors = assignment_errors(purpose=purpose, connector_id=connector_id, has_transaction=has_tx)
    assert list(errors) == ([field] if field else [])


@pytest.mark.parametrize("limits, unit, stack, periods, installed, field", [
    (StationLimits(), "W", 99, 999, 999, None),  # nothing known: nothing blocked
    (StationLimits(allowed_units="Current"), "W", 0, 1, 1, "charging_rate_unit"),
    (StationLimits(allowed_units="Current"), "A", 0, 1, 1, None),
    (StationLimits(allowed_units="Current,Power"), "W", 0, 1, 1, None),
    (StationLimits(allowed_units="Power"), "A", 0, 1, 1, "charging_rate_unit"),
    (StationLimits(max_stack_level=3), "A", 4, 1, 1, "stack_level"),
    (StationLimits(max_stack_level=3), "A", 3, 1, 1, None),
    (StationLimits(max_periods=2), "A", 0, 3, 1, "periods"),
    (StationLimits(max_installed=2), "A", 0, 1, 3, "profile"),
    (StationLimits(max_installed=2), "A", 0, 1, 2, None),
])
def test_station_limits(limits, unit, stack, periods, installed, field):
    errors = station_limit_errors(limits=limits, charging_rate_unit=unit, stack_level=stack, period_count=periods,
                                  installed_after=installed)
    assert list(errors) == ([field] if field else [])
