"""Times as a person reads them: the case's zone first, UTC beside it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from ashiato.case import Case
from ashiato.cli import app
from ashiato.errors import QueryError
from ashiato.report.html import check_zone, when_text, zone_label


def test_same_day_shows_only_the_utc_time() -> None:
    assert when_text("2015-09-10T05:27:09Z", "Asia/Tokyo") == (
        "2015-09-10 14:27:09 JST (05:27:09 UTC)"
    )


def test_utc_date_is_repeated_where_it_differs() -> None:
    assert when_text("2015-09-09T23:10:00Z", "Asia/Tokyo") == (
        "2015-09-10 08:10:00 JST (2015-09-09 23:10:00 UTC)"
    )


def test_a_zone_west_of_utc_and_its_summer_time() -> None:
    # New York is four hours behind in September (EDT) and five in January (EST)
    assert when_text("2015-09-10T02:00:00Z", "America/New_York") == (
        "2015-09-09 22:00:00 EDT (2015-09-10 02:00:00 UTC)"
    )
    assert when_text("2016-01-10T15:00:00.250Z", "America/New_York") == (
        "2016-01-10 10:00:00.250 EST (15:00:00 UTC)"
    )


def test_utc_cases_and_bad_values() -> None:
    assert when_text("2015-09-10T05:27:09Z", "UTC") == "2015-09-10 05:27:09 UTC"
    assert when_text(None, "Asia/Tokyo") == ""
    assert when_text("not a time", "Asia/Tokyo") == "not a time"
    assert zone_label("Asia/Tokyo") == "Asia/Tokyo (JST)"
    assert zone_label("UTC") == "UTC"
    with pytest.raises(QueryError, match="Mars/Olympus"):
        check_zone("Mars/Olympus")


def test_report_uses_the_case_zone_and_display_tz_overrides(lab_case: Case) -> None:
    findings = json.loads((lab_case.root / "findings.json").read_text("utf-8"))
    first = findings["impact"]["window"]["start"]
    runner = CliRunner()
    res = runner.invoke(
        app, ["report", str(lab_case.root), "--lang", "en", "--format", "md", "--output", "-"]
    )
    assert res.exit_code == 0, res.output
    assert when_text(first, "Asia/Tokyo") in res.output  # the case was ingested as Tokyo
    assert "Asia/Tokyo (JST)" in res.output
    res = runner.invoke(
        app,
        [
            "report",
            str(lab_case.root),
            "--lang",
            "en",
            "--output",
            "-",
            "--display-tz",
            "Europe/Berlin",
        ],
    )
    assert res.exit_code == 0, res.output
    assert when_text(first, "Europe/Berlin") in res.output
    assert " CEST (" in res.output and " JST (" not in res.output
    res = runner.invoke(
        app, ["report", str(lab_case.root), "--display-tz", "Nowhere/Else", "--output", "-"]
    )
    assert res.exit_code != 0 and "Nowhere/Else" in res.output


def test_chart_ticks_and_tooltips_in_the_display_zone() -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from ashiato.report.charts import all_charts, time_ticks, tip_time

    lo, hi = datetime(2015, 9, 10, 5, 17, tzinfo=UTC), datetime(2015, 9, 10, 11, 0, tzinfo=UTC)
    ny, india = ZoneInfo("America/New_York"), ZoneInfo("Asia/Kolkata")
    ticks = time_ticks(lo, hi, 8, ny)
    assert ticks[0] == datetime(2015, 9, 10, 2, 0, tzinfo=ny)  # 01:17 EDT → the next hour
    assert ticks[0].utcoffset() == timedelta(hours=-4)
    # on the zone's own hours: 11:00 IST is 05:30 UTC, which a UTC axis would never mark
    first = time_ticks(lo, hi, 8, india)[0]
    assert first.astimezone(UTC) == datetime(2015, 9, 10, 5, 30, tzinfo=UTC)
    assert time_ticks(lo, hi)[0] == datetime(2015, 9, 10, 6, 0, tzinfo=UTC)
    when = datetime(2015, 9, 10, 5, 27, tzinfo=UTC)
    assert tip_time(when, ny) == "2015-09-10 01:27 EDT (05:27 UTC)"
    assert tip_time(when, None) == "2015-09-10 05:27 UTC"
    # a drawn chart: its tooltips name the zone and keep UTC beside it
    series = {"coverage": {"hours_start": "2015-09-10T05:00:00Z",
                           "datasets": {"squid.access": [3, 0, 5]}}}  # fmt: skip
    svg = " ".join(str(vars(s)) for c in all_charts(series, {}, "en", "America/New_York")
                   for s in c.shapes)  # fmt: skip
    assert "EDT (" in svg and "05:00 UTC" in svg
