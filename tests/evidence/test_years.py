"""The year of year-less logs, from the evidence around them."""

from __future__ import annotations

import os
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from ashiato.case import Case
from ashiato.evidence import years
from ashiato.ingest import Options, ingest

DATA = Path(__file__).resolve().parents[1] / "data"
COPIED = datetime(2026, 12, 6, 9, 0, tzinfo=UTC).timestamp()  # copied off the server today


def dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_rotation_date() -> None:
    assert years.rotation_date("maillog-20150910") == date(2015, 9, 10)
    assert years.rotation_date("messages-2015-12-31.gz") == date(2015, 12, 31)
    assert years.rotation_date("maillog.1") is None
    assert years.rotation_date("fw-20150231.log") is None  # no such day
    assert years.rotation_date("access-1441766705.log") is None  # an epoch is not a date


def test_other_sources_win() -> None:
    # parsed with the copy's year (2026); the proxy and the PCs say 2015
    got = years.choose(dt("2026-09-09 02:20"), dt("2026-09-09 03:00"),
                       [(dt("2015-09-08 00:00"), dt("2015-09-10 00:00"))],
                       date(2026, 9, 10), dt("2026-12-06 09:00"))  # fmt: skip
    assert got.shift == -11 and got.basis.startswith("from the case's other sources")


def test_the_year_most_sources_share_beats_a_listing_of_old_files() -> None:
    # a share listing's file times run 2013..2016 and fit any of those years; the proxy
    # and the DC logs say 2015, and that is the basis named
    listing = (dt("2013-08-20 00:00"), dt("2016-12-20 00:00"))
    logs = [(dt("2015-09-08 00:00"), dt("2015-09-11 00:00")),
            (dt("2015-09-07 00:00"), dt("2015-09-10 12:00"))]  # fmt: skip
    got = years.choose(dt("2026-09-09 02:20"), dt("2026-09-10 03:00"), [listing, *logs],
                       None, dt("2026-12-06 09:00"))  # fmt: skip
    assert got.shift == -11
    assert got.basis == "from the case's other sources (2015-09-07 to 2015-09-11)"


def test_new_year_inside_the_file_keeps_both_years() -> None:
    # Dec 30 .. Jan 2 (the roll-over is the parser's): the first guess put Dec in 2016
    first, last = dt("2016-12-30 23:00"), dt("2017-01-02 01:00")
    by_name = years.choose(first, last, [], date(2016, 1, 3), None)
    assert by_name.shift == -1 and "rotation date" in by_name.basis
    by_mtime = years.choose(first, last, [], None, dt("2016-01-02 01:05"))
    assert by_mtime.shift == -1
    # near the other sources' range on the New Year side
    near = years.choose(first, last, [(dt("2016-01-01 08:00"), dt("2016-01-01 20:00"))], None,
                        None)  # fmt: skip
    assert near.shift == -1


def test_ingest_dates_a_copied_maillog_by_the_case(tmp_path: Path) -> None:
    ev = tmp_path / "evidence"
    ev.mkdir()
    for src in (DATA / "postfix/maillog", DATA / "squid/access.log"):
        shutil.copy(src, ev / src.name)
        os.utime(ev / src.name, (COPIED, COPIED))
    case = Case.create_or_open(tmp_path / "case", tz="Asia/Tokyo")
    report = ingest(case, [ev], Options())
    by_name = {Path(f.display).name: f for f in report.files}
    mail, proxy = by_name["maillog"], by_name["access.log"]
    assert proxy.assumption is None and proxy.first is not None and proxy.first.year == 2015
    assert mail.first is not None and mail.first.year == 2015
    assert mail.assumption == ("year 2015 assumed, from the case's other sources "
                               "(2015-09-09 to 2015-09-09)")  # fmt: skip
    with case.reader() as con:
        got = con.execute("SELECT min(year(\"@timestamp\")), max(year(\"@timestamp\")), "
                          "count(*) FROM events").fetchone()  # fmt: skip
        n = con.execute("SELECT count(*) FROM evidence").fetchone()
    assert got is not None and got[:2] == (2015, 2015) and n == (2,)
    # --year overrides, and is named as given
    case2 = Case.create_or_open(tmp_path / "case2", tz="Asia/Tokyo")
    given = ingest(case2, [ev / "maillog"], Options(year=2014))
    assert given.files[0].assumption == "year 2014 given (--year)"
    assert given.files[0].first is not None and given.files[0].first.year == 2014
    # alone, a copied file falls back on its modification time (no better witness); the
    # log runs Sep 9 .. Jan 1, so its last line, not its first, is the modification year
    case3 = Case.create_or_open(tmp_path / "case3", tz="Asia/Tokyo")
    alone = ingest(case3, [ev / "maillog"], Options())
    assert alone.files[0].assumption == ("year 2025 assumed, from the file's modification "
                                         "time (2026-12-06)")  # fmt: skip
    assert alone.files[0].last == dt("2025-12-31 15:00:05")  # Jan 1 2026 00:00:05 JST
