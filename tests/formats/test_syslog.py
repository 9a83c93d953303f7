from __future__ import annotations

from zoneinfo import ZoneInfo

import pyarrow as pa
from helpers import utc_of

from ashiato.formats.syslog import YearState, peel

TOKYO = ZoneInfo("Asia/Tokyo")


def _peel(lines: list[str], state: YearState | None = None) -> list[dict[str, object]]:
    env = peel(pa.array(lines, pa.string()), TOKYO, state or YearState(2015))
    cols = {
        "ts": env.timestamp, "host": env.host, "app": env.app, "pri": env.pri,
        "msg": env.message, "kind": env.kind,
    }  # fmt: skip
    return [
        {k: v[i].as_py() for k, v in cols.items() if v[i].as_py() is not None}
        for i in range(len(lines))
    ]


def test_rfc3164_shapes() -> None:
    got = _peel([
        "<13>Sep  9 11:45:07 fs01 sshd[4242]: Accepted password for tanaka",
        "Sep  9 11:45:08 FG-TOKYO date=2015-09-09 time=11:45:08 devname=FG-TOKYO",
        "Sep 10 01:02:03 postfix/smtpd[77]: connect from unknown[192.0.2.5]",
        "Sep 10 01:02:04 kernel: IN=eth0 OUT= SRC=192.0.2.9",
    ])  # fmt: skip
    assert got == [
        {
            "ts": utc_of("2015-09-09T11:45:07+09:00"), "host": "fs01", "app": "sshd", "pri": 13,
            "msg": "Accepted password for tanaka", "kind": "rfc3164",
        },
        {
            "ts": utc_of("2015-09-09T11:45:08+09:00"), "host": "FG-TOKYO",
            "msg": "date=2015-09-09 time=11:45:08 devname=FG-TOKYO", "kind": "rfc3164",
        },
        {
            "ts": utc_of("2015-09-10T01:02:03+09:00"), "app": "postfix/smtpd",
            "msg": "connect from unknown[192.0.2.5]", "kind": "rfc3164",
        },
        {
            "ts": utc_of("2015-09-10T01:02:04+09:00"), "app": "kernel",
            "msg": "IN=eth0 OUT= SRC=192.0.2.9", "kind": "rfc3164",
        },
    ]  # fmt: skip


def test_year_rolls_over_across_chunks() -> None:
    state = YearState(2014)
    first = _peel(["Dec 31 23:59:58 h a: x", "Dec 31 23:59:59 h a: y"], state)
    second = _peel(["Jan  1 00:00:01 h a: z", "Feb  2 00:00:00 h a: w"], state)
    assert [r["ts"] for r in first + second] == [
        utc_of("2014-12-31T23:59:58+09:00"), utc_of("2014-12-31T23:59:59+09:00"),
        utc_of("2015-01-01T00:00:01+09:00"), utc_of("2015-02-02T00:00:00+09:00"),
    ]  # fmt: skip


def test_rfc5424_pri_only_and_none() -> None:
    got = _peel([
        '<165>1 2015-09-09T11:45:07.250+09:00 fw01 fortigate 1234 ID47 [meta a="1" b="]"] hello',
        "<165>1 2015-09-09T02:45:07Z fw02 app - - -",
        "<189>date=2015-09-09 time=11:45:07",
        "just a message",
    ])  # fmt: skip
    assert got == [
        {
            "ts": utc_of("2015-09-09T11:45:07.250+09:00"), "host": "fw01", "app": "fortigate",
            "pri": 165, "msg": "hello", "kind": "rfc5424",
        },
        {
            "ts": utc_of("2015-09-09T02:45:07+00:00"), "host": "fw02", "app": "app", "pri": 165,
            "msg": "", "kind": "rfc5424",
        },
        {"pri": 189, "msg": "date=2015-09-09 time=11:45:07", "kind": "pri"},
        {"msg": "just a message"},
    ]  # fmt: skip


def test_rfc5424_time_without_offset_is_local() -> None:
    got = _peel(["<14>1 2015-09-09T11:45:07 h a - - - m", "<14>1 - h a - - - m"])
    assert got[0]["ts"] == utc_of("2015-09-09T11:45:07+09:00")
    assert "ts" not in got[1]
