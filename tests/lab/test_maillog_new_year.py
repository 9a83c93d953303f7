"""Postfix maillogs whose year-less stamps cross New Year, as the lab's writer prints them.

The lab's runs start in September 2015 and last days, so no scenario reaches 31 December;
this writes the New Year night with the lab's own Postfix and Squid renderers (JST syslog
stamps without a year; epoch seconds) under the names logrotate gives them, and ingests
them as a responder would receive them: copied off the server today, so every file's
modification time says 2026.
"""

from __future__ import annotations

import os
from datetime import UTC, date, datetime
from pathlib import Path

from ashiato.case import Case
from ashiato.ingest import Options, ingest
from ashiato.lab.clock import START, at
from ashiato.lab.sink import Data, StreamSpec, StreamState
from ashiato.lab.writers import postfix, squid

COPIED = datetime(2026, 12, 6, 9, 0, tzinfo=UTC).timestamp()
NYE = (date(2015, 12, 31) - START).days  # lab day of 31 December 2015
ENDS = {  # file -> (first, last) line as JST wall clock (day, h, m, s) and count
    # rotated by date early on New Year's Day: Dec 31 evening .. past midnight
    "maillog-20160101": ((NYE, 22, 0, 0), (NYE + 1, 0, 0, 3)),
    # numbered rotation of the same night, written by a second relay's logrotate
    "maillog.1": ((NYE, 23, 59, 58), (NYE + 1, 3, 10, 0)),
    # the live file: New Year's Day into the 2nd
    "maillog": ((NYE + 1, 0, 0, 5), (NYE + 2, 9, 0, 0)),
}


def _ms(when: tuple[int, int, int, int]) -> int:
    day, h, m, s = when
    return at(day, h, m, s)


def _state(key: str) -> StreamState:
    return StreamState(StreamSpec(key, "mail", f"evidence/mail/{key}", postfix.render, "postfix",
                                  "mx01", "Asia/Tokyo", False))  # fmt: skip


def _maillog(name: str) -> list[str]:
    st = _state(name)
    out = []
    for i, ts in enumerate(_times(name)):
        e: Data = {"daemon": "smtpd", "pid": 4100 + i,
                   "msg": f"connect from unknown[198.51.100.{10 + i}]"}  # fmt: skip
        out.append(postfix.render(st, ts, e))
    return out


def _squid() -> list[str]:
    st = StreamState(StreamSpec("squid", "proxy", "evidence/proxy/access.log", squid.render,
                                "squid", "proxy01", "UTC", True))  # fmt: skip
    out = []
    for i, when in enumerate(((NYE, 21, 0, 0), (NYE, 23, 59, 59), (NYE + 2, 10, 0, 0))):
        e: Data = {"elapsed": 120, "client": f"10.1.1.{20 + i}", "status": 200, "bytes": 512,
                   "method": "GET", "url": f"http://www.example.jp/{i}.html",
                   "server_ip": "203.0.113.8", "ctype": "text/html"}  # fmt: skip
        out.append(squid.render(st, _ms(when), e))
    return out


def _write(folder: Path, name: str, lines: list[str]) -> None:
    path = folder / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.utime(path, (COPIED, COPIED))


def _stamps(case: Case, name: str) -> list[datetime]:
    with case.reader() as con:
        rows = con.execute(
            'SELECT e."@timestamp" FROM events e JOIN evidence v USING (evidence_id) '
            "WHERE v.path LIKE ? ORDER BY e.record",
            ["%/" + name],
        ).fetchall()
    return [r[0].astimezone(UTC) for r in rows]


def _expected(name: str) -> list[datetime]:
    # syslog stamps keep whole seconds
    return [datetime.fromtimestamp(ms // 1000, UTC) for ms in _times(name)]


def _times(name: str) -> list[int]:
    first, last = (_ms(w) for w in ENDS[name])
    step = max((last - first) // 5, 1)
    return [*range(first, last, step), last]


def test_the_writer_crosses_new_year_without_a_year() -> None:
    lines = _maillog("maillog.1")
    assert lines[0].startswith("Dec 31 23:59:58 mx01 postfix/smtpd[")
    assert any(line.startswith("Jan  1 00:") for line in lines)  # space-padded day
    assert not any("2015" in line or "2016" in line for line in lines)


def test_rotated_maillogs_take_the_cases_years_across_new_year(tmp_path: Path) -> None:
    ev = tmp_path / "evidence"
    ev.mkdir()
    for name in ENDS:
        _write(ev, name, _maillog(name))
    _write(ev, "access.log", _squid())
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [ev], Options())
    by_name = {Path(f.display).name: f for f in report.files}
    assert by_name["access.log"].assumption is None
    for name in ENDS:
        got = _stamps(case, name)
        # each line at its own instant: Dec 31 of 2015 and Jan 1/2 of 2016 (JST)
        assert got == _expected(name), name
        assert by_name[name].assumption == (
            "year 2015 assumed, from the case's other sources (2015-12-31 to 2016-01-02)"
        ), name
    mixed = _stamps(case, "maillog.1")
    jst = [(t.year, t.month, t.day) for t in (mixed[0], mixed[-1])]
    assert jst == [(2015, 12, 31), (2015, 12, 31)]  # 23:59:58 JST and 03:10 JST = Dec 31 UTC
    assert _stamps(case, "maillog")[-1] == datetime(2016, 1, 2, 0, 0, tzinfo=UTC)


def test_a_rotated_maillog_alone_is_dated_by_its_name(tmp_path: Path) -> None:
    ev = tmp_path / "evidence"
    ev.mkdir()
    _write(ev, "maillog-20160101", _maillog("maillog-20160101"))
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [ev], Options())
    assert report.files[0].assumption == (
        "year 2015 assumed, from the rotation date in the name (2016-01-01)"
    )
    assert _stamps(case, "maillog-20160101") == _expected("maillog-20160101")
