from decimal import Decimal

from transactions.models import Tariff


def test_cost_rounds_half_up_and_adds_the_session_fee():
    tariff = Tariff(name="t", price_per_kwh=Decimal("0.25"), session_fee=Decimal("0.50"))
    assert tariff.cost_of(12500) == Decimal("3.63")  # 0.50 + 12.5 kWh * 0.25 = 3.625
    assert Tariff(name="u", price_per_kwh=Decimal("0.25")).cost_of(0) == Decimal("0.00")
