from __future__ import annotations

import pytest
from helpers import (
    DATA,
    Parsed,
    assert_claims_no_other_fixture,
    assert_registry_routes,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.testing import parse_file
from ashiato.formats.veeam import FORMAT
from ashiato.formats.winevent import WinEvent, to_row

LOG = DATA / "veeam" / "veeam_syslog.log"


@pytest.fixture(scope="module")
def parsed() -> Parsed:
    table, rejects = parse_file(FORMAT, LOG, tz="Asia/Tokyo")
    return rows_by_record(table), rejects


def test_deletions(parsed: Parsed) -> None:
    rows, rejects = parsed
    assert [(r.record, r.reason) for r in rejects] == [
        (5, "not a Veeam syslog message (RFC 5424, Veeam_MP)")
    ]
    got = [(r["event.code"], r.get("event.action")) for _, r in sorted(rows.items())]
    assert got == [
        ("23090", "backup-job-deleted"),
        ("10050", "restore-point-deleted"),
        ("28200", "repository-deleted"),
        ("190", None),
    ]
    job = rows[1]
    assert job["@timestamp"] == utc_of("2024-02-03T03:40:00.123456+09:00")
    assert (job["user.domain"], job["user.name"], job["host.name"]) == (
        "CORP", "svc_backup", "vbrsrv01",
    )  # fmt: skip
    assert (job["observer.type"], job["observer.vendor"], job["event.dataset"]) == (
        "backup", "veeam", "veeam.backup",
    )  # fmt: skip
    assert job["message"] == "Backup job 'FS01 daily' has been deleted."
    assert job["extra"] == {"veeam.job": "FS01 daily"}
    # the unescaped quotes of UserFullInfo do not shift the keys after it
    point = rows[2]
    assert point["extra"] == {"veeam.vm": "FS01"}
    assert point["message"].endswith("removed by user CORP\\svc_backup.")
    assert rows[3]["extra"] == {"veeam.repository": "Repo-NAS02"}
    assert rows[3]["@timestamp"] == utc_of("2024-02-03T03:42:00+00:00")


def test_same_ids_from_the_windows_event_log() -> None:
    ev = WinEvent(
        provider="Veeam MP", event_id=41402, channel="Veeam Backup", computer="VBRSRV01",
        time="2024-02-03T03:42:00Z", data={"Name": "Nimble01", "UserName": "CORP\\svc_backup"},
    )  # fmt: skip
    row = to_row(ev)
    assert (row["event.action"], row["veeam.repository"], row["user.name"]) == (
        "repository-deleted", "Nimble01", "svc_backup",
    )  # fmt: skip


def test_sniff() -> None:
    assert FORMAT.sniff(text_sample(LOG))
    assert_registry_routes([LOG], "veeam")
    assert_claims_no_other_fixture(FORMAT, "veeam")
    line = "<14>1 2024-02-03T01:00:00Z host app - - - hello\n"
    assert not FORMAT.sniff(Sample(line.encode(), line, "x.log"))


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus() -> None:
    from helpers import assert_claims_nothing_in_the_public_corpus

    assert_claims_nothing_in_the_public_corpus(FORMAT)
