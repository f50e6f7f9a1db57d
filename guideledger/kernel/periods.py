"""Settlement periods: a month ("2026-11") or a quarter ("2026-Q4") in the brand's time zone."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from zoneinfo import ZoneInfo

from guideledger.kernel.errors import InvalidValue, RuleViolated


class SettlementCadence(StrEnum):
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"


#: Events recorded before they carried their brand's time zone or day are read as cut in
#: China Standard Time, the zone of the brands this ledger was built for: an old event of
#: a brand in another zone counts on its day in Shanghai.
TIME_ZONE_OF_OLD_EVENTS = "Asia/Shanghai"


def local_day(moment: datetime, time_zone: str) -> str:
    """The ISO date of `moment` in `time_zone`: how days are cut for a brand."""
    return moment.astimezone(ZoneInfo(time_zone)).date().isoformat()


def period_of(moment: datetime, time_zone: str, cadence: SettlementCadence) -> str:
    local = moment.astimezone(ZoneInfo(time_zone))
    if SettlementCadence(cadence) is SettlementCadence.MONTHLY:
        return f"{local.year:04d}-{local.month:02d}"
    return f"{local.year:04d}-Q{(local.month - 1) // 3 + 1}"


def _first_month(period: str) -> tuple[int, int, int]:
    """(year, first month, months long) of a period key."""
    try:
        year_text, part = period.split("-")
        year = int(year_text)
        if part.startswith("Q"):
            quarter = int(part[1:])
            if not 1 <= quarter <= 4:
                raise ValueError
            return year, 3 * (quarter - 1) + 1, 3
        month = int(part)
        if not 1 <= month <= 12:
            raise ValueError
        return year, month, 1
    except ValueError:
        raise InvalidValue(f"not a period: {period!r} (use 2026-11 or 2026-Q4)") from None


def period_start(period: str, time_zone: str) -> datetime:
    year, month, _months = _first_month(period)
    return datetime(year, month, 1, tzinfo=ZoneInfo(time_zone))


def next_period(period: str) -> str:
    year, month, months = _first_month(period)
    month += months
    if month > 12:
        year, month = year + 1, month - 12
    if months == 3:
        return f"{year:04d}-Q{(month - 1) // 3 + 1}"
    return f"{year:04d}-{month:02d}"


def period_end(period: str, time_zone: str) -> datetime:
    """The first instant after the period."""
    return period_start(next_period(period), time_zone)


def days_of(period: str, time_zone: str) -> list[str]:
    """The ISO dates of the period's days."""
    start, end = period_start(period, time_zone), period_end(period, time_zone)
    days = []
    day = start.date()
    while day < end.date():
        days.append(day.isoformat())
        day = day.fromordinal(day.toordinal() + 1)
    return days


def first_start_after(moment: datetime, time_zone: str, cadence: SettlementCadence) -> datetime:
    """The first instant at or after `moment` where a period of `cadence` begins."""
    period = period_of(moment, time_zone, cadence)
    start = period_start(period, time_zone)
    return start if start >= moment else period_end(period, time_zone)


class PeriodClosed(RuleViolated):
    """A settlement period, once closed, never changes: corrections go to an open one."""

    type = "period-closed"
