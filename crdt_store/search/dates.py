"""``modified:`` / ``created:`` values -> a time interval, in the local time zone.

Accepted values (D is a date ``YYYY-MM-DD``; days are local calendar days):

* ``7d``, ``24h``, ``2w``, ``3m``, ``1y``: within the last N days / hours / weeks /
  calendar months / years, up to now and beyond (clocks differ);
* ``D``: that day; ``D1..D2``: from D1 through D2 (either end may be left out);
* ``>D`` after that day, ``>=D`` from that day on, ``<D`` before it, ``<=D`` up to its end.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, datetime, timedelta

from crdt_store.search.schema import to_datetime

__all__ = ["DATE_HELP", "DateFilterError", "parse_interval"]

DATE_HELP = "7d, 24h, 2w, 3m, 2026-01-31, >2026-01-01, <=2026-02-01 or 2026-01-01..2026-02-01"

_RELATIVE = re.compile(r"(\d{1,6})([hdwmy])")
_DATE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})")
_COMPARE = re.compile(r"(>=|<=|>|<)(.*)", re.DOTALL)


class DateFilterError(ValueError):
    """A date value that cannot be read; the message names the value."""


def _months_before(moment: datetime, months: int) -> datetime:
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def _relative(count: int, unit: str, now: float) -> float:
    moment = datetime.fromtimestamp(now)
    if unit in "my":
        return _months_before(moment, count * (12 if unit == "y" else 1)).timestamp()
    seconds = {"h": 3600, "d": 86400, "w": 7 * 86400}[unit]
    return now - count * seconds


def _day(text: str) -> date:
    m = _DATE.fullmatch(text)
    if not m:
        raise DateFilterError(f"'{text}' is not a date like 2026-01-31")
    try:
        return date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        raise DateFilterError(f"{text} is not a valid date") from None


def _start(day: date) -> float:
    return datetime(day.year, day.month, day.day).timestamp()


def _end(day: date) -> float:
    """Start of the next day (exclusive end); the last representable day ends at its midnight."""
    if day == date.max:
        return datetime(day.year, day.month, day.day, 23, 59, 59).timestamp()
    return _start(day + timedelta(days=1))


def parse_interval(value: str, now: float) -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` for `value` as naive UTC datetimes (like the index's DATETIME
    fields): start inclusive, end exclusive, None for an open end.
    ``DateFilterError`` if `value` is not one of the forms above."""
    try:
        start, end = _parse(value.strip(), now)
        return (
            None if start is None else to_datetime(start),
            None if end is None else to_datetime(end),
        )
    except DateFilterError:
        raise
    except (OverflowError, OSError, ValueError):
        raise DateFilterError(f"'{value}' is too far in the past or future") from None


def _parse(value: str, now: float) -> tuple[float | None, float | None]:
    if m := _RELATIVE.fullmatch(value):
        return _relative(int(m[1]), m[2], now), None
    if m := _COMPARE.fullmatch(value):
        op, day = m[1], _day(m[2].strip())
        return {
            ">": (_end(day), None),
            ">=": (_start(day), None),
            "<": (None, _start(day)),
            "<=": (None, _end(day)),
        }[op]
    if ".." in value:
        first, _, last = value.partition("..")
        if not first and not last:
            raise DateFilterError("'..' needs a date on at least one side")
        start = _start(_day(first)) if first else None
        end = _end(_day(last)) if last else None
        if start is not None and end is not None and end <= start:
            raise DateFilterError(f"the range {value} ends before it starts")
        return start, end
    day = _day(value)
    return _start(day), _end(day)
