"""The one clock.

This module owns the only read of the wall clock in the project. Every service, gate and deadline check takes
an explicit ``as_of``; adapters (CLI, flows) call :func:`now` once at their edge when the user gave none.
Times are naive Asia/Shanghai wall-clock times: the cycle is a Shanghai district's and every deadline in it is
a local date, so storing local time keeps what the database says equal to what the notice says.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

TZ = ZoneInfo("Asia/Shanghai")


def now() -> dt.datetime:
    """Current Asia/Shanghai wall-clock time, naive, to the second."""
    return dt.datetime.now(TZ).replace(tzinfo=None, microsecond=0)


def epoch_seconds() -> int:
    """Seconds since the epoch, for wall-clock limits that no cycle date touches (a sign-in session's age)."""
    return int(dt.datetime.now(TZ).timestamp())


def today() -> dt.date:
    return now().date()


def as_datetime(value: dt.date | dt.datetime | str | None) -> dt.datetime:
    """Normalise an ``as_of`` given as a date, a datetime or an ISO string; ``None`` means now.

    A bare date means the start of that working day (09:00), which is when the daily sweep runs.
    """
    if value is None:
        return now()
    if isinstance(value, str):
        value = value.strip()
        try:
            value = dt.datetime.fromisoformat(value) if ("T" in value or " " in value) else dt.date.fromisoformat(value)
        except ValueError:
            from stages.ground.errors import PlancycleError

            raise PlancycleError(f"cannot read the date {value!r} (expected YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(TZ).replace(tzinfo=None)
        return value.replace(microsecond=0)
    return dt.datetime.combine(value, dt.time(9, 0))
