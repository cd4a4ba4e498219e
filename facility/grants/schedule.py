"""Reporting and payment schedules of a grant, computed at signature. Pure.

Dates: the action runs from its start date for ``duration`` months; its last day is the day
before the same date ``duration`` months later. Periods are consecutive 12-month spans from
the start. (Month arithmetic clamps to the month's last day: 31 Jan + 1 month = 28/29 Feb.)

Reports (EU PRAG): an interim report (narrative and financial) for each 12-month period that
ends before the action does, due 60 days after the period's last day; a final report due 90
days after the action's last day.

Payments (EU PRAG; amounts are this facility's rule, PRAG leaving them to the contract):
- actions of 12 months or less, or of EUR 100,000 or less (in euros): 80 % pre-financing,
  due 45 days after signature; the balance (the rest) after the final report is approved;
- longer actions: 80 % of the grant is paid as yearly pre-financing instalments, one per
  12-month period, in proportion to the months each period covers; the first is due 45 days
  after signature, each next one is unlocked by the approval of the interim report that
  closes the period before it; the balance (the remaining 20 %) after the final report.
Amounts are rounded to the cent (half up); the last instalment absorbs the rounding, so the
schedule always sums to the grant exactly.

Unlocking (PRAG): the next instalment is unlocked when the approved interim report shows
spending to date of at least 100 % of every instalment before the previous one plus 70 % of
the previous one.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")
SHORT_ACTION_MONTHS = 12
SMALL_GRANT = Decimal("100000.00")
PRE_FINANCING_SHARE = Decimal("0.80")
NEXT_INSTALMENT_SPENT_SHARE = Decimal("0.70")
INTERIM_REPORT_DAYS = 60
FINAL_REPORT_DAYS = 90
PAYMENT_DAYS = 45


def add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def last_day(start: date, months: int) -> date:
    return add_months(start, months) - timedelta(days=1)


@dataclass(frozen=True)
class PlannedReport:
    kind: str  # interim | final
    sequence: int
    period_start: date
    period_end: date
    due_on: date


@dataclass(frozen=True)
class PlannedPayment:
    kind: str  # pre_financing | balance
    sequence: int
    amount: Decimal
    # The report whose approval makes it due; None: due at signature.
    unlocked_by_report: int | None
    due_on: date | None


def reporting_schedule(start: date, duration_months: int) -> list[PlannedReport]:
    end = last_day(start, duration_months)
    reports: list[PlannedReport] = []
    months = 12
    while months < duration_months:
        period_start = add_months(start, months - 12)
        period_end = last_day(start, months)
        reports.append(
            PlannedReport(
                "interim",
                len(reports) + 1,
                period_start,
                period_end,
                period_end + timedelta(days=INTERIM_REPORT_DAYS),
            )
        )
        months += 12
    final_start = add_months(start, months - 12) if reports else start
    reports.append(
        PlannedReport(
            "final", len(reports) + 1, final_start, end, end + timedelta(days=FINAL_REPORT_DAYS)
        )
    )
    return reports


def _cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def payment_schedule(
    amount: Decimal, duration_months: int, signed_on: date, currency: str = "EUR"
) -> list[PlannedPayment]:
    first_due = signed_on + timedelta(days=PAYMENT_DAYS)
    final_report = len(reporting_schedule(signed_on, duration_months))
    # The EUR 100,000 threshold is a euro amount: other currencies go by duration alone.
    small = currency == "EUR" and amount <= SMALL_GRANT
    if duration_months <= SHORT_ACTION_MONTHS or small:
        pre = _cents(amount * PRE_FINANCING_SHARE)
        return [
            PlannedPayment("pre_financing", 1, pre, None, first_due),
            PlannedPayment("balance", 2, amount - pre, final_report, None),
        ]
    total_pre = _cents(amount * PRE_FINANCING_SHARE)
    periods = [min(12, duration_months - start) for start in range(0, duration_months, 12)]
    instalments = [_cents(total_pre * months / duration_months) for months in periods[:-1]]
    instalments.append(total_pre - sum(instalments, Decimal(0)))
    payments = [
        PlannedPayment(
            "pre_financing",
            i + 1,
            value,
            None if i == 0 else i,  # instalment i+1 waits for interim report i
            first_due if i == 0 else None,
        )
        for i, value in enumerate(instalments)
    ]
    payments.append(
        PlannedPayment("balance", len(payments) + 1, amount - total_pre, final_report, None)
    )
    return payments


def unlock_threshold(previous_instalments: list[Decimal]) -> Decimal:
    """Spending to date needed to unlock the next instalment, rounded up to the cent so it
    is never a fraction of a cent below 70 %."""
    *earlier, last = previous_instalments
    needed = sum(earlier, Decimal(0)) + last * NEXT_INSTALMENT_SPENT_SHARE
    return needed.quantize(CENT, rounding=ROUND_CEILING)
