"""Unit tests of the grant schedules (facility/grants/schedule.py): plain functions, no database.

The expected values are worked out by hand or with independent date arithmetic, following the
rules documented in the module: reports per 12-month period ending before the action does
(due 60 days after the period), a final report due 90 days after the last day, and payments of
80 % pre-financing (yearly instalments for long actions) plus a balance, exact to the cent.
"""

from __future__ import annotations

import itertools
import random
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from facility.grants.schedule import (
    PlannedPayment,
    PlannedReport,
    add_months,
    last_day,
    payment_schedule,
    reporting_schedule,
    unlock_threshold,
)

D = Decimal
CENT = D("0.01")
START = date(2026, 7, 1)
SIGNED = date(2026, 3, 2)


def days(d: date, n: int) -> date:
    return d + timedelta(days=n)


def cents(value: Decimal) -> bool:
    return value == value.quantize(CENT)


# --- month arithmetic -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 28)),
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # leap year
        (date(2026, 1, 31), 3, date(2026, 4, 30)),
        (date(2026, 1, 31), 12, date(2027, 1, 31)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 11, 15), 2, date(2027, 1, 15)),  # year roll-over
        (date(2026, 12, 1), 12, date(2027, 12, 1)),
        (date(2026, 7, 1), 0, date(2026, 7, 1)),
    ],
)
def test_add_months_clamps_to_month_end(start: date, months: int, expected: date) -> None:
    assert add_months(start, months) == expected


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (date(2026, 7, 1), 6, date(2026, 12, 31)),
        (date(2026, 7, 1), 12, date(2027, 6, 30)),
        (date(2026, 7, 1), 18, date(2027, 12, 31)),
        (date(2026, 1, 1), 12, date(2026, 12, 31)),
        (date(2026, 1, 31), 1, date(2026, 2, 27)),  # the day before 28 Feb
        (date(2026, 1, 31), 6, date(2026, 7, 30)),
        (date(2026, 1, 31), 12, date(2027, 1, 30)),
    ],
)
def test_last_day_is_the_day_before_the_same_date_later(
    start: date, months: int, expected: date
) -> None:
    assert last_day(start, months) == expected


# --- reporting schedules --------------------------------------------------------------------


def test_six_month_grant_has_only_a_final_report() -> None:
    assert reporting_schedule(START, 6) == [
        PlannedReport("final", 1, START, date(2026, 12, 31), date(2027, 3, 31))
    ]


def test_twelve_month_grant_has_only_a_final_report() -> None:
    # A period that ends with the action is covered by the final report, not an interim one.
    assert reporting_schedule(START, 12) == [
        PlannedReport("final", 1, START, date(2027, 6, 30), date(2027, 9, 28))
    ]


def test_eighteen_month_grant() -> None:
    assert reporting_schedule(START, 18) == [
        PlannedReport("interim", 1, START, date(2027, 6, 30), date(2027, 8, 29)),
        PlannedReport("final", 2, date(2027, 7, 1), date(2027, 12, 31), date(2028, 3, 30)),
    ]


def test_twenty_four_month_grant() -> None:
    assert reporting_schedule(START, 24) == [
        PlannedReport("interim", 1, START, date(2027, 6, 30), date(2027, 8, 29)),
        PlannedReport("final", 2, date(2027, 7, 1), date(2028, 6, 30), date(2028, 9, 28)),
    ]


def test_thirty_month_grant() -> None:
    assert reporting_schedule(START, 30) == [
        PlannedReport("interim", 1, START, date(2027, 6, 30), date(2027, 8, 29)),
        PlannedReport("interim", 2, date(2027, 7, 1), date(2028, 6, 30), date(2028, 8, 29)),
        PlannedReport("final", 3, date(2028, 7, 1), date(2028, 12, 31), date(2029, 3, 31)),
    ]


def test_thirty_six_month_grant() -> None:
    assert reporting_schedule(START, 36) == [
        PlannedReport("interim", 1, START, date(2027, 6, 30), date(2027, 8, 29)),
        PlannedReport("interim", 2, date(2027, 7, 1), date(2028, 6, 30), date(2028, 8, 29)),
        PlannedReport("final", 3, date(2028, 7, 1), date(2029, 6, 30), date(2029, 9, 28)),
    ]


def test_start_on_31_january_clamps_every_period() -> None:
    start = date(2026, 1, 31)
    assert reporting_schedule(start, 18) == [
        PlannedReport("interim", 1, start, date(2027, 1, 30), date(2027, 3, 31)),
        PlannedReport("final", 2, date(2027, 1, 31), date(2027, 7, 30), date(2027, 10, 28)),
    ]
    # 31 Aug + 6 months clamps to 28 Feb; the action's last day is the day before.
    [final] = reporting_schedule(date(2026, 8, 31), 6)
    assert (final.period_end, final.due_on) == (date(2027, 2, 27), date(2027, 5, 28))


def test_start_on_29_february_of_a_leap_year() -> None:
    start = date(2028, 2, 29)
    assert reporting_schedule(start, 30) == [
        PlannedReport("interim", 1, start, date(2029, 2, 27), days(date(2029, 2, 27), 60)),
        PlannedReport(
            "interim", 2, date(2029, 2, 28), date(2030, 2, 27), days(date(2030, 2, 27), 60)
        ),
        PlannedReport(
            "final", 3, date(2030, 2, 28), date(2030, 8, 28), days(date(2030, 8, 28), 90)
        ),
    ]


@pytest.mark.parametrize("duration", range(1, 61))
@pytest.mark.parametrize(
    "start", [date(2026, 7, 1), date(2026, 1, 31), date(2028, 2, 29), date(2026, 3, 30)]
)
def test_reporting_schedule_invariants(start: date, duration: int) -> None:
    reports = reporting_schedule(start, duration)
    end = last_day(start, duration)
    *interims, final = reports
    # One interim per 12-month period that ends strictly before the action does.
    assert len(interims) == (duration - 1) // 12
    assert [r.sequence for r in reports] == list(range(1, len(reports) + 1))
    assert all(r.kind == "interim" for r in interims) and final.kind == "final"
    # Periods are contiguous, start at the start and end on the action's last day.
    assert reports[0].period_start == start
    for before, after in itertools.pairwise(reports):
        assert after.period_start == days(before.period_end, 1)
    for i, report in enumerate(interims):
        assert report.period_start == add_months(start, 12 * i)
        assert report.period_end == last_day(start, 12 * (i + 1))
        assert report.period_end < end
        assert report.due_on == days(report.period_end, 60)
    assert final.period_end == end
    assert final.due_on == days(end, 90)


# --- payment schedules ----------------------------------------------------------------------


def amounts(payments: list[PlannedPayment]) -> list[Decimal]:
    return [p.amount for p in payments]


@pytest.mark.parametrize("duration", [6, 12])
def test_short_actions_pay_80_percent_then_the_balance(duration: int) -> None:
    payments = payment_schedule(D("200000.00"), duration, SIGNED)
    assert payments == [
        PlannedPayment("pre_financing", 1, D("160000.00"), None, date(2026, 4, 16)),
        PlannedPayment("balance", 2, D("40000.00"), 1, None),
    ]


def test_eighteen_months_two_instalments_in_proportion_to_the_months() -> None:
    payments = payment_schedule(D("190000.00"), 18, SIGNED)
    assert payments == [
        PlannedPayment("pre_financing", 1, D("101333.33"), None, date(2026, 4, 16)),
        PlannedPayment("pre_financing", 2, D("50666.67"), 1, None),
        PlannedPayment("balance", 3, D("38000.00"), 2, None),
    ]


def test_twenty_four_months() -> None:
    assert payment_schedule(D("250000.00"), 24, SIGNED) == [
        PlannedPayment("pre_financing", 1, D("100000.00"), None, date(2026, 4, 16)),
        PlannedPayment("pre_financing", 2, D("100000.00"), 1, None),
        PlannedPayment("balance", 3, D("50000.00"), 2, None),
    ]


def test_thirty_months() -> None:
    # 80 % = 186666.66; 12/30, 12/30 and the last 6/30 absorbs the rounding.
    assert payment_schedule(D("233333.33"), 30, SIGNED) == [
        PlannedPayment("pre_financing", 1, D("74666.66"), None, date(2026, 4, 16)),
        PlannedPayment("pre_financing", 2, D("74666.66"), 1, None),
        PlannedPayment("pre_financing", 3, D("37333.34"), 2, None),
        PlannedPayment("balance", 4, D("46666.67"), 3, None),
    ]


def test_thirty_six_months() -> None:
    assert payment_schedule(D("200000.00"), 36, SIGNED) == [
        PlannedPayment("pre_financing", 1, D("53333.33"), None, date(2026, 4, 16)),
        PlannedPayment("pre_financing", 2, D("53333.33"), 1, None),
        PlannedPayment("pre_financing", 3, D("53333.34"), 2, None),
        PlannedPayment("balance", 4, D("40000.00"), 3, None),
    ]


def test_awkward_amounts() -> None:
    # 233333.33 * 0.8 = 186666.664 -> 186666.66; 12/18 of it = 124444.44.
    assert amounts(payment_schedule(D("233333.33"), 18, SIGNED)) == [
        D("124444.44"), D("62222.22"), D("46666.67")
    ]  # fmt: skip
    # 150000.01 * 0.8 = 120000.008 -> 120000.01 (half up).
    assert amounts(payment_schedule(D("150000.01"), 12, SIGNED)) == [
        D("120000.01"), D("30000.00")
    ]  # fmt: skip
    # 150000.01 over 18 months: 80000.01 (80000.0053...) then the rest of 120000.01.
    assert amounts(payment_schedule(D("150000.01"), 18, SIGNED)) == [
        D("80000.01"), D("40000.00"), D("30000.00")
    ]  # fmt: skip
    # Half a cent rounds up: 100000.03 * 0.8 = 80000.024 -> .02; 100000.07 -> 80000.056 -> .06
    assert amounts(payment_schedule(D("100000.07"), 12, SIGNED))[0] == D("80000.06")
    assert amounts(payment_schedule(D("0.05"), 6, SIGNED)) == [D("0.04"), D("0.01")]


@pytest.mark.parametrize(
    ("amount", "duration", "expected"),
    [
        (D("100000.00"), 18, [D("80000.00"), D("20000.00")]),  # small grant: 80 % / 20 %
        (D("99999.99"), 36, [D("79999.99"), D("20000.00")]),
        (D("75000.00"), 18, [D("60000.00"), D("15000.00")]),
        (D("100000.01"), 18, [D("53333.34"), D("26666.67"), D("20000.00")]),  # just above
        (D("1000000.00"), 12, [D("800000.00"), D("200000.00")]),  # short, however large
        (D("1000000.00"), 13, [D("738461.54"), D("61538.46"), D("200000.00")]),
    ],
)
def test_small_grants_and_the_boundaries(
    amount: Decimal, duration: int, expected: list[Decimal]
) -> None:
    payments = payment_schedule(amount, duration, SIGNED)
    assert amounts(payments) == expected
    assert sum(amounts(payments)) == amount
    assert payments[-1].kind == "balance"
    assert payments[-1].unlocked_by_report == len(reporting_schedule(SIGNED, duration))


def test_small_grant_over_eighteen_months_has_one_pre_financing() -> None:
    payments = payment_schedule(D("90000.00"), 18, SIGNED)
    assert payments == [
        PlannedPayment("pre_financing", 1, D("72000.00"), None, date(2026, 4, 16)),
        PlannedPayment("balance", 2, D("18000.00"), 2, None),  # after the final report (2nd)
    ]


@pytest.mark.parametrize(
    ("signed", "due"),
    [
        (date(2026, 3, 2), date(2026, 4, 16)),
        (date(2026, 12, 31), date(2027, 2, 14)),
        (date(2028, 1, 20), date(2028, 3, 5)),  # through 29 February
        (date(2027, 1, 20), date(2027, 3, 6)),
    ],
)
@pytest.mark.parametrize("duration", [6, 12, 18, 24, 30, 36])
def test_first_pre_financing_due_45_days_after_signature(
    signed: date, due: date, duration: int
) -> None:
    first, *rest = payment_schedule(D("200000.00"), duration, signed)
    assert (first.kind, first.sequence, first.unlocked_by_report) == ("pre_financing", 1, None)
    assert first.due_on == due == days(signed, 45)
    assert all(p.due_on is None for p in rest)


@pytest.mark.parametrize(
    ("duration", "unlocks"),
    [
        (6, [None, 1]),
        (12, [None, 1]),
        (18, [None, 1, 2]),
        (24, [None, 1, 2]),
        (30, [None, 1, 2, 3]),
        (36, [None, 1, 2, 3]),
        (48, [None, 1, 2, 3, 4]),
    ],
)
def test_which_report_unlocks_which_payment(duration: int, unlocks: list[int | None]) -> None:
    payments = payment_schedule(D("240000.00"), duration, SIGNED)
    assert [p.unlocked_by_report for p in payments] == unlocks
    reports = reporting_schedule(SIGNED, duration)
    # Each later instalment waits for the interim report that closes the period before it;
    # the balance waits for the final report.
    for payment in payments[1:-1]:
        assert payment.kind == "pre_financing"
        assert reports[payment.unlocked_by_report - 1].kind == "interim"  # type: ignore[operator]
    assert payments[-1].kind == "balance"
    assert reports[payments[-1].unlocked_by_report - 1].kind == "final"  # type: ignore[operator]


def test_many_amounts_sum_to_the_grant_exactly_in_cents() -> None:
    rng = random.Random(20260302)
    samples = [D(rng.randint(1, 2_500_000_00)) / 100 for _ in range(1500)]
    samples += [D("233333.33"), D("150000.01"), D("100000.01"), D("333333.33"), D("0.01")]
    for amount in samples:
        for duration in (6, 12, 13, 18, 24, 25, 30, 36, 47):
            payments = payment_schedule(amount, duration, SIGNED)
            values = amounts(payments)
            where = f"{amount} over {duration} months: {values}"
            assert sum(values) == amount, where
            assert all(cents(v) and v >= 0 for v in values), where
            assert [p.sequence for p in payments] == list(range(1, len(payments) + 1)), where
            *pre, balance = payments
            assert balance.kind == "balance" and all(p.kind == "pre_financing" for p in pre)
            total_pre = (amount * D("0.8")).quantize(CENT, rounding=ROUND_HALF_UP)
            assert sum(p.amount for p in pre) == total_pre, where
            assert balance.amount == amount - total_pre, where
            if duration <= 12 or amount <= D("100000.00"):
                assert len(pre) == 1, where
                continue
            periods = [min(12, duration - m) for m in range(0, duration, 12)]
            assert len(pre) == len(periods), where
            for p, months in zip(pre, periods, strict=True):
                exact = total_pre * months / duration
                assert abs(p.amount - exact) <= CENT * len(periods), where
            for p, months in zip(pre[:-1], periods[:-1], strict=True):
                assert abs(p.amount - total_pre * months / duration) <= D("0.005"), where


# --- unlocking ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("previous", "threshold"),
    [
        ([D("100000.00")], D("70000.00")),
        ([D("53333.33")], D("37333.34")),  # 37333.331, rounded up: never below 70 %
        ([D("100000.00"), D("100000.00")], D("170000.00")),  # 100 % + 70 %
        ([D("53333.33"), D("53333.33")], D("90666.67")),
        ([D("74666.66"), D("74666.66"), D("37333.34")], D("175466.66")),
        ([D("0.10")], D("0.07")),
        ([D("0.05")], D("0.04")),  # 0.035 -> up
    ],
)
def test_unlock_threshold(previous: list[Decimal], threshold: Decimal) -> None:
    assert unlock_threshold(previous) == threshold


def test_unlock_threshold_is_cumulative() -> None:
    rng = random.Random(7)
    for _ in range(500):
        previous = [D(rng.randint(1, 50_000_000)) / 100 for _ in range(rng.randint(1, 5))]
        *earlier, last = previous
        got = unlock_threshold(previous)
        assert cents(got)
        assert D(0) <= got - (sum(earlier, D(0)) + last * D("0.7")) < D("0.01")
        assert sum(earlier, D(0)) <= got <= sum(previous, D(0))


def test_unlock_threshold_is_never_below_70_percent() -> None:
    for previous in ([D("101333.33")], [D("53333.33")], [D("0.02")], [D("100.01")]):
        *earlier, last = previous
        assert unlock_threshold(previous) >= sum(earlier, D(0)) + last * D("0.70"), previous
