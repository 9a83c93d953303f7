"""Simulated time and the way each log writes it.

Time inside the lab is an ``int`` of milliseconds since the Unix epoch, in UTC. Integers keep
arithmetic exact and output byte-identical across machines (floats would render 0.412 as
0.41199...). Every renderer below takes such an instant plus, where the device is skewed, the
device's offset; Japan has no daylight saving, so JST is a fixed +9 h.
"""

from __future__ import annotations

import calendar
import time
from datetime import date, timedelta

MS = 1000
SECOND = MS
MINUTE = 60 * MS
HOUR = 60 * MINUTE
DAY = 24 * HOUR
JST_MS = 9 * HOUR

# Day 0 is a Monday; every scenario starts here so "several days in" is always a weekday.
START = date(2015, 9, 7)
_DAY0 = calendar.timegm(START.timetuple()) * MS - JST_MS  # 00:00 JST of day 0

# National holidays in the range scale 50 can reach (Silver Week 2015 included): offices idle.
HOLIDAYS = frozenset({
    date(2015, 9, 21), date(2015, 9, 22), date(2015, 9, 23), date(2015, 10, 12),
    date(2015, 11, 3), date(2015, 11, 23), date(2015, 12, 23), date(2015, 12, 31),
    date(2016, 1, 1), date(2016, 1, 11),
})

_MON = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
WEEKDAY_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


def day_start(day: int) -> int:
    """00:00 JST of day ``day`` (0 = 2015-09-07) as epoch ms."""
    return _DAY0 + day * DAY


def at(day: int, hour: int, minute: int = 0, second: float = 0.0) -> int:
    """Epoch ms of a JST wall-clock time on day ``day``."""
    return day_start(day) + hour * HOUR + minute * MINUTE + round(second * MS)


def day_of(ts: int) -> int:
    """Index of the JST day containing ``ts``."""
    return (ts - _DAY0) // DAY


def date_of(day: int) -> date:
    return START + timedelta(days=day)


def is_workday(day: int) -> bool:
    d = date_of(day)
    return d.weekday() < 5 and d not in HOLIDAYS


def previous_workday(day: int) -> int:
    d = day - 1
    while d > 0 and not is_workday(d):
        d -= 1
    return max(d, 0)


def _tm(ms: int) -> tuple[time.struct_time, int]:
    sec, milli = divmod(ms, MS)
    return time.gmtime(sec), milli


# -- UTC renderings ---------------------------------------------------------------------


def iso_utc(ms: int) -> str:
    """Truth and MFT-free ISO form: ``2015-09-10T02:45:08.612Z``."""
    t, milli = _tm(ms)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{milli:03d}Z"


def win_systemtime(ms: int) -> str:
    """``TimeCreated/@SystemTime`` as wevtutil and evtx_dump print it."""
    t, milli = _tm(ms)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{milli:03d}000Z"


def sysmon_utc(ms: int) -> str:
    """Sysmon ``UtcTime``: ``2015-09-09 02:45:08.012``."""
    t, milli = _tm(ms)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{milli:03d}"


def mft_utc(ms: int) -> str:
    """MFTECmd: seven fractional digits, UTC."""
    t, milli = _tm(ms)
    return time.strftime("%Y-%m-%d %H:%M:%S", t) + f".{milli:03d}0000"


def epoch_squid(ms: int) -> str:
    sec, milli = divmod(ms, MS)
    return f"{sec}.{milli:03d}"


# -- JST renderings (device-local clocks) -------------------------------------------------


def jst_tm(ms: int) -> tuple[time.struct_time, int]:
    """Broken-down JST wall clock of ``ms`` and its milliseconds."""
    return _tm(ms + JST_MS)


def syslog_jst(ms: int) -> str:
    """RFC 3164 stamp without a year: ``Sep  9 11:45:07``."""
    t, _ = jst_tm(ms)
    return f"{_MON[t.tm_mon - 1]} {t.tm_mday:2d} {t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"


def jst_date_time(ms: int) -> tuple[str, str]:
    """FortiGate ``date=``/``time=`` pair."""
    t, _ = jst_tm(ms)
    return time.strftime("%Y-%m-%d", t), time.strftime("%H:%M:%S", t)


def jst_slash(ms: int) -> str:
    """Zero-padded ``2015/09/09 08:05:03`` (Trend Micro and gateway CSV exports)."""
    t, _ = jst_tm(ms)
    return time.strftime("%Y/%m/%d %H:%M:%S", t)


def jst_ja_culture(ms: int) -> str:
    """.NET ja-JP ``DateTime.ToString()``: ``2015/09/09 8:05:03`` (hour not padded)."""
    t, _ = jst_tm(ms)
    return time.strftime("%Y/%m/%d ", t) + f"{t.tm_hour}:{t.tm_min:02d}:{t.tm_sec:02d}"


def jst_offset_iso(ms: int) -> str:
    """Suricata ``timestamp``: ``2015-09-09T11:45:06.311000+0900``."""
    t, milli = jst_tm(ms)
    return time.strftime("%Y-%m-%dT%H:%M:%S", t) + f".{milli:03d}000+0900"


def dhcp_date_time(ms: int) -> tuple[str, str]:
    """Windows DHCP audit log ``MM/DD/YY`` and ``HH:MM:SS`` (local, no offset)."""
    t, _ = jst_tm(ms)
    return time.strftime("%m/%d/%y", t), time.strftime("%H:%M:%S", t)


def jst_weekday(ms: int) -> int:
    t, _ = jst_tm(ms)
    return t.tm_wday
