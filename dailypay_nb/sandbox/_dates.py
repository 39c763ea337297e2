"""Date helpers: DailyPay's timestamp formats and US Eastern local midnight without tzdata."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache

_ISO = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})$"
)


def _nth_sunday(year: int, month: int, n: int) -> date:
    first = date(year, month, 1)
    offset = (6 - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


def eastern_offset_hours(day: date) -> int:
    """Hours to add to US Eastern local midnight to get UTC (5 in winter, 4 in summer)."""
    dst_start = _nth_sunday(day.year, 3, 2)
    dst_end = _nth_sunday(day.year, 11, 1)
    return 4 if dst_start <= day < dst_end else 5


@lru_cache(maxsize=4096)
def local_midnight_utc(day: date) -> datetime:
    """The UTC instant of US Eastern midnight on `day` (DailyPay's pay-period day format)."""
    return datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(
        hours=eastern_offset_hours(day)
    )


def format_seconds(moment: datetime) -> str:
    """`2023-03-15T04:00:00Z`."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_millis(moment: datetime) -> str:
    """`2021-04-21T21:30:58.051Z`."""
    utc = moment.astimezone(timezone.utc)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def parse_datetime(text: str) -> datetime:
    """Parse an ISO 8601 date-time with an offset (`Z`, `+00:00`, milliseconds allowed)."""
    match = _ISO.match(text.strip())
    if match is None and " " in text:
        match = _ISO.match(text.strip().replace(" ", "+"))  # '+' decoded as a space
    if match is None:
        raise ValueError(f"not an ISO 8601 date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    if zone in ("Z", "z"):
        tz = timezone.utc
    else:
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second or 0), micro, tz)
