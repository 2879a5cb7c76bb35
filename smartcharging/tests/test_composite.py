"""The stacking and combination rules, as worked examples (pure: no database, no clock)."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from smartcharging.composite import (
    CHARGE_POINT_MAX,
    TX,
    TX_DEFAULT,
    Period,
    Profile,
    RunningTransaction,
    compute,
)

UTC = timezone.utc
T0 = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)  # a Monday, noon
HOUR = 3600


def at(seconds: int) -> datetime:
    return T0 + timedelta(seconds=seconds)


def profile(purpose, stack, periods, *, unit="A", kind="Absolute", start=at(-HOUR), connector=None, duration=None,
            recurrency=None, valid_from=None, valid_to=None, tx=None, pid=0):
    if connector is None:
        connector = 1 if purpose == TX else 0
    return Profile(
        purpose=purpose, stack_level=stack, kind=kind, charging_rate_unit=unit,
        periods=tuple(Period(p[0], Decimal(str(p[1])), p[2] if len(p) > 2 else None) for p in periods),
        connector_id=connector, recurrency_kind=recurrency, valid_from=valid_from, valid_to=valid_to,
        start_schedule=start, duration=duration, transaction_id=tx, charging_profile_id=pid,
    )


TX7_STARTED_5_MIN_AGO = RunningTransaction(7, at(-300))
TX7_STARTED_30_MIN_AGO = RunningTransaction(7, at(-1800))

# (name, profiles, connector, window seconds, requested unit, running transaction, expected unit, expected periods)
CASES = [
    ("one TxDefault on connector 0 applies to connector 1",
     [profile(TX_DEFAULT, 0, [(0, 16)])], 1, HOUR, None, None,
     "A", [(0, 16)]),
    ("the higher stack level wins while it lasts, then the lower one",
     [profile(TX_DEFAULT, 0, [(0, 16)]), profile(TX_DEFAULT, 1, [(0, 10)], start=T0, duration=1800)], 1, HOUR, None, None,
     "A", [(0, 10), (1800, 16)]),
    ("a higher stack level not yet valid (validFrom) leaves the lower one in force",
     [profile(TX_DEFAULT, 0, [(0, 16)]), profile(TX_DEFAULT, 1, [(0, 10)], valid_from=at(1200))], 1, HOUR, None, None,
     "A", [(0, 16), (1200, 10)]),
    ("validTo ends the higher stack level",
     [profile(TX_DEFAULT, 0, [(0, 16)]), profile(TX_DEFAULT, 1, [(0, 10)], valid_to=at(600))], 1, HOUR, None, None,
     "A", [(0, 10), (600, 16)]),
    ("the highest stack level without duration never falls back",
     [profile(TX_DEFAULT, 0, [(0, 16)], start=T0, duration=600), profile(TX_DEFAULT, 1, [(0, 10)])], 1, HOUR, None, None,
     "A", [(0, 10)]),
    ("the winning profile's own periods, then the lower level after its duration",
     [profile(TX_DEFAULT, 0, [(0, 16)]), profile(TX_DEFAULT, 1, [(0, 10), (600, 20)], start=T0, duration=1200)],
     1, HOUR, None, None,
     "A", [(0, 10), (600, 20), (1200, 16)]),
    ("an absolute profile that has not started yet leaves the lower level in force",
     [profile(TX_DEFAULT, 0, [(0, 16)]), profile(TX_DEFAULT, 1, [(0, 8)], start=at(900), duration=900)],
     1, HOUR, None, None,
     "A", [(0, 16), (900, 8), (1800, 16)]),
    ("a TxProfile beats every TxDefaultProfile, whatever their stack levels",
     [profile(TX_DEFAULT, 5, [(0, 6)]), profile(TX, 0, [(0, 20)], kind="Relative", start=None, tx=7)],
     1, HOUR, None, TX7_STARTED_5_MIN_AGO,
     "A", [(0, 20)]),
    ("no TxDefaultProfile returns after the TxProfile's duration (contract)",
     [profile(TX_DEFAULT, 5, [(0, 6)]), profile(TX, 0, [(0, 20)], kind="Relative", start=None, duration=600, tx=7)],
     1, 1800, None, TX7_STARTED_5_MIN_AGO,
     "A", [(0, 20), (300, None)]),
    ("a TxProfile of another transaction does not count",
     [profile(TX_DEFAULT, 0, [(0, 6)]), profile(TX, 0, [(0, 20)], tx=99)], 1, HOUR, None, TX7_STARTED_5_MIN_AGO,
     "A", [(0, 6)]),
    ("without a running transaction only TxDefaultProfiles count",
     [profile(TX_DEFAULT, 0, [(0, 6)]), profile(TX, 0, [(0, 20)], tx=7)], 1, HOUR, None, None,
     "A", [(0, 6)]),
    ("a connector's own TxDefaultProfile beats connector 0's, even at a lower stack level",
     [profile(TX_DEFAULT, 3, [(0, 10)], connector=0), profile(TX_DEFAULT, 0, [(0, 20)], connector=1)],
     1, HOUR, None, None,
     "A", [(0, 20)]),
    ("another connector still gets connector 0's TxDefaultProfile",
     [profile(TX_DEFAULT, 3, [(0, 10)], connector=0), profile(TX_DEFAULT, 0, [(0, 20)], connector=1)],
     2, HOUR, None, None,
     "A", [(0, 10)]),
    ("connector 0's TxDefaultProfile fills in where the connector's own has ended",
     [profile(TX_DEFAULT, 0, [(0, 10)], connector=0), profile(TX_DEFAULT, 0, [(0, 20)], connector=1, start=T0, duration=1200)],
     1, HOUR, None, None,
     "A", [(0, 20), (1200, 10)]),
    ("ChargePointMaxProfile caps the transaction's limit",
     [profile(CHARGE_POINT_MAX, 0, [(0, 16)]), profile(TX_DEFAULT, 0, [(0, 32), (HOUR + 1800, 8)])],
     1, HOUR, None, None,
     "A", [(0, 16), (1800, 8)]),
    ("a cap in W meets a limit in A: without a requested unit, amperes; 11000 W / (230 V * 3) = 15.94 -> 15.9",
     [profile(CHARGE_POINT_MAX, 0, [(0, 11000)], unit="W"), profile(TX_DEFAULT, 0, [(0, 32)])], 1, HOUR, None, None,
     "A", [(0, Decimal("15.9"))]),
    ("A to W: 16 A on one phase is 3680 W",
     [profile(TX_DEFAULT, 0, [(0, 16, 1)])], 1, HOUR, "W", None,
     "W", [(0, 3680, 1)]),
    ("A to W: without numberPhases three phases are assumed, 16 A is 11040 W",
     [profile(TX_DEFAULT, 0, [(0, 16)])], 1, HOUR, "W", None,
     "W", [(0, 11040)]),
    ("W to A rounds down to 0.1: 7400 W on one phase is 32.17 A -> 32.1",
     [profile(TX_DEFAULT, 0, [(0, 7400, 1)], unit="W")], 1, HOUR, "A", None,
     "A", [(0, Decimal("32.1"), 1)]),
    ("the cap with fewer phases is the lower one in watts",
     [profile(CHARGE_POINT_MAX, 0, [(0, 20, 1)]), profile(TX, 0, [(0, 16, 3)], kind="Relative", start=None, tx=7)],
     1, HOUR, "W", TX7_STARTED_5_MIN_AGO,
     "W", [(0, 4600, 1)]),
    ("equal limits after conversion: the transaction-level period's phases are kept",
     [profile(CHARGE_POINT_MAX, 0, [(0, 10)]), profile(TX_DEFAULT, 0, [(0, 10, 3)])], 1, HOUR, None, None,
     "A", [(0, 10, 3)]),
    ("the profiles' own unit when they agree",
     [profile(CHARGE_POINT_MAX, 0, [(0, 11000)], unit="W"), profile(TX_DEFAULT, 0, [(0, 7000)], unit="W")],
     1, HOUR, None, None,
     "W", [(0, 7000)]),
    ("connector 0's composite is the ChargePointMaxProfile alone",
     [profile(CHARGE_POINT_MAX, 0, [(0, 40)]), profile(TX_DEFAULT, 0, [(0, 10)])], 0, HOUR, None, None,
     "A", [(0, 40)]),
    ("nothing installed: one period without a limit",
     [], 1, HOUR, None, None,
     "A", [(0, None)]),
    ("gaps no profile covers have no limit",
     [profile(TX_DEFAULT, 0, [(0, 10)], start=T0, duration=600), profile(TX_DEFAULT, 1, [(0, 8)], start=at(1200), duration=600)],
     1, HOUR, None, None,
     "A", [(0, 10), (600, None), (1200, 8), (1800, None)]),
    ("consecutive equal limits are merged",
     [profile(TX_DEFAULT, 0, [(0, 16)]), profile(TX_DEFAULT, 1, [(0, 16), (300, 16)], start=T0, duration=600)],
     1, HOUR, None, None,
     "A", [(0, 16)]),
    ("equal limits merge even when the limiting profile (and its phases) changes",
     [profile(CHARGE_POINT_MAX, 0, [(0, 16)]), profile(TX_DEFAULT, 0, [(0, 20, 3), (600, 16, 3), (1200, 10, 3)], start=T0)],
     1, HOUR, None, None,
     "A", [(0, 16), (1200, 10, 3)]),
    ("the spec's daily example (6 kW from 08:00 to 20:00) seen from noon for 24 h",
     [profile(TX_DEFAULT, 0, [(0, 11000, 3), (8 * HOUR, 6000, 3), (20 * HOUR, 11000, 3)], unit="W", kind="Recurring",
              recurrency="Daily", start=datetime(2013, 1, 1, tzinfo=UTC), duration=86400)],
     1, 24 * HOUR, None, None,
     "W", [(0, 6000, 3), (8 * HOUR, 11000, 3), (20 * HOUR, 6000, 3)]),
    ("a daily recurrence shorter than a day falls back to the lower stack level",
     [profile(TX_DEFAULT, 0, [(0, 16)]),
      profile(TX_DEFAULT, 1, [(0, 10)], kind="Recurring", recurrency="Daily", start=datetime(2025, 1, 1, tzinfo=UTC),
              duration=8 * HOUR)],
     1, 24 * HOUR, None, None,
     "A", [(0, 16), (12 * HOUR, 10), (20 * HOUR, 16)]),
    ("periods past the recurrence period are never executed",
     [profile(TX_DEFAULT, 0, [(0, 10), (25 * HOUR, 4)], kind="Recurring", recurrency="Daily",
              start=datetime(2025, 1, 1, tzinfo=UTC))],
     1, 48 * HOUR, None, None,
     "A", [(0, 10)]),
    ("a weekly recurrence limited to Mondays",
     [profile(TX_DEFAULT, 0, [(0, 10)], kind="Recurring", recurrency="Weekly", start=datetime(2025, 3, 3, tzinfo=UTC),
              duration=24 * HOUR)],
     1, 7 * 24 * HOUR, None, None,
     "A", [(0, 10), (12 * HOUR, None), (6 * 24 * HOUR + 12 * HOUR, 10)]),
    ("a recurrence without startSchedule starts at UTC midnight",
     [profile(TX_DEFAULT, 0, [(0, 5), (12 * HOUR, 7)], kind="Recurring", recurrency="Daily", start=None)],
     1, 24 * HOUR, None, None,
     "A", [(0, 7), (12 * HOUR, 5)]),
    ("a recurrence has not begun before its startSchedule",
     [profile(TX_DEFAULT, 0, [(0, 5)], kind="Recurring", recurrency="Daily", start=at(HOUR))],
     1, 2 * HOUR, None, None,
     "A", [(0, None), (HOUR, 5)]),
    ("a Relative TxProfile starts with its transaction",
     [profile(TX, 0, [(0, 10), (HOUR, 20)], kind="Relative", start=None, tx=7)], 1, 2 * HOUR, None, TX7_STARTED_30_MIN_AGO,
     "A", [(0, 10), (1800, 20)]),
    ("a Relative TxDefaultProfile without a transaction starts now",
     [profile(TX_DEFAULT, 0, [(0, 6), (600, 12)], kind="Relative", start=None)], 1, HOUR, None, None,
     "A", [(0, 6), (600, 12)]),
    ("an Absolute profile without startSchedule is relative to the start of charging",
     [profile(TX_DEFAULT, 0, [(0, 6), (600, 12)], start=None)], 1, HOUR, None, TX7_STARTED_5_MIN_AGO,
     "A", [(0, 6), (300, 12)]),
    ("a TxProfile without transactionId belongs to the running transaction",
     [profile(TX_DEFAULT, 0, [(0, 6)]), profile(TX, 0, [(0, 12)], tx=None)], 1, HOUR, None, TX7_STARTED_5_MIN_AGO,
     "A", [(0, 12)]),
]


@pytest.mark.parametrize(
    "profiles, connector_id, duration, unit, transaction, expected_unit, expected",
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_composite(profiles, connector_id, duration, unit, transaction, expected_unit, expected):
    schedule = compute(profiles=profiles, connector_id=connector_id, start=T0, duration=duration,
                       charging_rate_unit=unit, transaction=transaction)
    got = [
        (p.start_period, p.limit) if p.number_phases is None else (p.start_period, p.limit, p.number_phases)
        for p in schedule.periods
    ]
    want = [
        tuple(Decimal(str(v)) if i == 1 and v is not None else v for i, v in enumerate(period))
        for period in expected
    ]
    assert (schedule.charging_rate_unit, got) == (expected_unit, want)
    assert schedule.schedule_start == T0 and schedule.duration == duration


def test_window_start_is_cut_to_whole_seconds():
    schedule = compute(profiles=[profile(TX_DEFAULT, 0, [(0, 16)], start=at(1), duration=10)], connector_id=1,
                       start=T0 + timedelta(microseconds=900_000), duration=60)
    assert schedule.schedule_start == T0
    assert [(p.start_period, p.limit) for p in schedule.periods] == [(0, None), (1, Decimal(16)), (11, None)]


def test_duration_must_be_positive():
    with pytest.raises(ValueError):
        compute(profiles=[], connector_id=1, start=T0, duration=0)
