from __future__ import annotations

from pathlib import Path

import pytest
from helpers import (
    DATA,
    Rows,
    assert_claims_no_other_fixture,
    assert_registry_routes,
    rows_by_record,
    text_sample,
    utc_of,
)

from ashiato.formats.base import Sample
from ashiato.formats.esxi import FORMAT
from ashiato.formats.testing import parse_file

FOLDER = DATA / "esxi"


def parsed(name: str, tz: str = "Asia/Tokyo") -> tuple[Rows, list[tuple[int, str]]]:
    table, rejects = parse_file(FORMAT, FOLDER / name, tz=tz, year_hint=2023)
    return rows_by_record(table), [(r.record, r.reason) for r in rejects]


def test_every_row_is_a_hypervisor_event() -> None:
    for path in sorted(FOLDER.iterdir()):
        rows, _ = parsed(path.name)
        assert rows, path
        for row in rows.values():
            assert (row["observer.type"], row["observer.vendor"]) == ("hypervisor", "vmware")
            assert row["event.dataset"].startswith("esxi."), row


def test_hostd_7_and_8_shapes() -> None:
    rows, rejects = parsed("hostd.log")
    # times end in Z: UTC whatever the source's zone
    assert rows[1]["@timestamp"] == utc_of("2023-02-03T10:02:11.482+00:00")
    assert (rows[1]["event.action"], rows[1]["event.outcome"]) == ("login", "success")
    assert (rows[1]["user.name"], rows[1]["source.ip"]) == ("root", "203.0.113.50")
    assert rows[2]["event.action"] == "ssh-enabled"
    off = rows[3]
    assert (off["event.action"], off["user.name"], off["extra"]["vm_id"]) == (
        "vm-power-off", "root", "12",
    )  # fmt: skip
    assert off["extra"]["opID"] == "esxcli-2f-9c07"
    state = rows[4]
    assert state["event.action"] == "vm-power-off"
    assert state["file.path"].endswith("/FS01/FS01.vmx")
    assert rejects == [(5, "continuation of the previous record (no time of its own)")]
    delete = rows[6]
    assert (delete["event.action"], delete["file.path"], delete["source.ip"]) == (
        "file-delete", "[datastore1] FS01/FS01-flat.vmdk", "203.0.113.50",
    )  # fmt: skip
    assert (rows[7]["event.outcome"], rows[7]["user.name"]) == ("failure", "admin")
    assert rows[7]["event.severity"] == 4  # "warning"
    # 8.x: In(166) Hostd[pid]: ...
    on = rows[8]
    assert (on["event.action"], on["event.provider"], on["event.severity"]) == (
        "vm-power-on", "hostd", 6,
    )  # fmt: skip
    assert on["event.dataset"] == "esxi.hostd"
    assert rows[9]["event.severity"] == 3 and "event.action" not in rows[9]


def test_shell_commands() -> None:
    rows, rejects = parsed("shell.log")
    assert rejects == []
    assert rows[1]["event.action"] == "ssh-enabled"
    assert "event.action" not in rows[2]  # "Interactive shell session started"
    commands = [
        (r["user.name"], r["process.name"], r["process.command_line"])
        for r in rows.values() if r.get("event.action") == "shell-command"
    ]  # fmt: skip
    assert commands[1] == (
        "root",
        "esxcli",
        "esxcli vm process kill --type=force --world-id=1052307",
    )
    assert commands[2][1:] == ("vim-cmd", "vim-cmd vmsvc/power.off 12")
    assert commands[3][2].startswith("esxcli system settings advanced set")
    assert commands[4][1] == "encrypt"
    assert len(commands) == 5
    assert all(r["event.dataset"] == "esxi.shell" for r in rows.values())


def test_auth_log_logins() -> None:
    rows, _ = parsed("auth.log")
    got = [
        (r["event.outcome"], r["user.name"], r["source.ip"])
        for r in rows.values() if r.get("event.action") == "login"
    ]  # fmt: skip
    assert got == [
        ("failure", "root", "198.51.100.23"),
        ("failure", "admin", "198.51.100.23"),
        ("success", "root", "198.51.100.23"),
    ]
    assert rows[4]["source.port"] == 50131
    assert rows[4]["event.dataset"] == "esxi.auth"


def test_vobd_switches_and_sessions() -> None:
    rows, _ = parsed("vobd.log")
    assert [rows[k].get("event.action") for k in (1, 2, 3)] == [
        "ssh-enabled", "login", "shell-enabled",
    ]  # fmt: skip
    assert rows[2]["source.ip"] == "198.51.100.23"
    assert {r["event.dataset"] for r in rows.values()} == {"esxi.vobd"}


def test_sftp_renames_writes_deletes_in_the_datastore() -> None:
    rows, _ = parsed("syslog.log")
    assert (rows[1]["event.action"], rows[1]["source.ip"]) == ("login", "198.51.100.23")
    assert "event.action" not in rows[2]  # read only: nothing written
    rename = rows[3]
    assert rename["event.action"] == "file-rename"
    assert rename["file.path"] == "/vmfs/volumes/datastore1/FS01/FS01-flat.vmdk.args"
    assert rename["extra"]["file.old_path"] == "/vmfs/volumes/datastore1/FS01/FS01-flat.vmdk"
    assert (rows[4]["event.action"], rows[4]["extra"]["bytes_written"]) == (
        "file-write", 1073741824,
    )  # fmt: skip
    assert rows[5]["event.action"] == "file-delete"
    assert (rows[6]["event.provider"], rows[6]["event.action"]) == ("dcui", "login")


def test_vmkernel_lines() -> None:
    rows, rejects = parsed("vmkernel.log")
    assert rejects == [] and len(rows) == 3
    assert {r["event.dataset"] for r in rows.values()} == {"esxi.vmkernel"}
    assert rows[3]["message"] == "cpu3:2100877)sh: exec denied: /tmp/encrypt"


def test_syslog_server_copy_and_a_time_without_zone() -> None:
    rows, _ = parsed("forwarded.log")
    assert (rows[1]["host.name"], rows[1]["observer.name"]) == ("esx01", "esx01.corp.example")
    assert (rows[1]["event.action"], rows[1]["user.name"]) == ("vm-power-off", "vpxuser")
    assert rows[1]["event.dataset"] == "esxi.hostd"
    assert rows[2]["process.command_line"] == "esxcli network firewall set --enabled false"
    # no offset: read in the source's zone (JST)
    assert rows[3]["@timestamp"] == utc_of("2023-02-03T19:06:00+09:00")
    utc_rows, _ = parsed("forwarded.log", tz="UTC")
    assert utc_rows[3]["@timestamp"] == utc_of("2023-02-03T19:06:00+00:00")
    assert utc_rows[2]["@timestamp"] == rows[2]["@timestamp"]


def test_collector_headers() -> None:
    rows, rejects = parsed("forwarded.log")
    assert rejects == []
    # RFC 3164: no year (the hint), no zone (JST)
    bsd = rows[4]
    assert bsd["@timestamp"] == utc_of("2023-02-03T19:12:20+09:00")
    assert (bsd["event.action"], bsd["user.name"], bsd["event.dataset"]) == (
        "vm-power-off", "root", "esxi.hostd",
    )  # fmt: skip
    assert (bsd["host.name"], bsd["event.severity"]) == ("esx01", 6)
    # RFC 5424 with the 8.x body
    new = rows[5]
    assert new["@timestamp"] == utc_of("2023-02-03T10:12:21+00:00")
    assert (new["event.action"], new["event.provider"], new["host.name"]) == (
        "ssh-enabled", "hostd", "esx01",
    )  # fmt: skip
    # the program from the header when the message has none
    shell = rows[6]
    assert (shell["event.action"], shell["event.dataset"]) == ("shell-command", "esxi.shell")
    assert shell["process.command_line"] == "esxcli vm process list"


def test_junk_lines_are_rejected(tmp_path: Path) -> None:
    log = tmp_path / "hostd.log"
    log.write_text(
        "2023-02-03T10:02:11.482Z info hostd[1] [Originator@6876 sub=Default] ok\ngarbage line\n\n"
    )
    table, rejects = parse_file(FORMAT, log)
    assert table.num_rows == 1
    assert [(r.record, r.reason, r.raw) for r in rejects] == [
        (2, "not an ESXi log line (no ISO time or syslog header at the start)", b"garbage line")
    ]


def test_sniff() -> None:
    for path in sorted(FOLDER.iterdir()):
        assert FORMAT.sniff(text_sample(path)), path
    assert_registry_routes(sorted(FOLDER.iterdir()), "esxi")
    assert_claims_no_other_fixture(FORMAT, "esxi")
    # an rsyslog high-precision line from Linux is not ESXi
    linux = "2023-02-03T10:02:11.482+09:00 web01 sshd[1]: Accepted password for a from b\n"
    assert not FORMAT.sniff(Sample(linux.encode(), linux, "auth.log"))


@pytest.mark.corpus
def test_claims_nothing_in_the_public_corpus() -> None:
    from helpers import assert_claims_nothing_in_the_public_corpus

    assert_claims_nothing_in_the_public_corpus(FORMAT)


def test_small_chunks_and_crlf(tmp_path: Path) -> None:
    from helpers import assert_small_chunks_match

    for name in ("hostd.log", "forwarded.log"):
        assert_small_chunks_match(
            FORMAT, FOLDER / name, tmp_path / name, chunk_bytes=300, by_record=True,
            tz="Asia/Tokyo", year_hint=2023,
        )  # fmt: skip


def test_host_from_the_vm_support_bundle_folder(tmp_path: Path) -> None:
    folder = tmp_path / "esx-esx01.corp.example-2023-02-03--10.30-2101234" / "var" / "run" / "log"
    folder.mkdir(parents=True)
    log = folder / "shell.log"
    log.write_bytes((FOLDER / "shell.log").read_bytes())
    table, _ = parse_file(FORMAT, log)
    rows = rows_by_record(table)
    assert {(r["host.name"], r["host.hostname"]) for r in rows.values()} == {
        ("esx01", "esx01.corp.example")
    }
    plain, _ = parsed("shell.log")  # not in a bundle: no host
    assert not any("host.name" in r for r in plain.values())


def test_hostd_downloads_and_accounts() -> None:
    rows, _ = parsed("hostd.log")
    down = rows[10]
    assert (down["event.action"], down["file.path"], down["source.ip"]) == (
        "file-read", "[datastore1] FS01/FS01-flat.vmdk", "203.0.113.50",
    )  # fmt: skip
    created = rows[11]
    assert (created["event.action"], created["event.category"]) == ("user-created", "iam")
    assert (created["user.name"], created["extra"]["target_user"]) == ("root", "backdoor")
    changed = rows[12]
    assert (changed["event.action"], changed["extra"]["target_user"]) == (
        "password-changed", "root",
    )  # fmt: skip


def test_esxi8_markers_kills_and_relayed_copies() -> None:
    """ESXi 8's documented header (``In(166)``, the ``+`` marker on the later lines of one
    message), a VM killed (ON -> OFF at once), ESXShell switches, and copies a collector
    received (RFC 3164 with an RFC 3339 time, RFC 5424, a collector's own header)."""
    rows, rejects = parsed("esxi8_and_relayed.log")
    assert rejects == []
    assert (rows[2]["event.action"], rows[2]["extra"]["vm_id"]) == ("vm-power-off", "12")
    more = rows[3]
    assert (more["event.dataset"], more["message"], more["extra"]["continuation"]) == (
        "esxi.hostd", "--> Args:", True,
    )  # fmt: skip
    assert "event.action" not in more
    killed = rows[4]
    assert killed["event.action"] == "vm-power-off"
    assert killed["file.path"].endswith("/APP01/APP01.vmx")
    assert (rows[5]["process.name"], rows[5]["event.dataset"]) == ("esxcli", "esxi.shell")
    assert rows[9]["event.action"] == "shell-enabled"
    assert (rows[9]["event.dataset"], rows[9]["event.severity"]) == ("esxi.shell", 5)
    assert rows[10]["event.dataset"] == "esxi.vmkernel"
    relayed = rows[11]
    assert (relayed["event.action"], relayed["host.name"], relayed["event.severity"]) == (
        "ssh-enabled", "esx01", 6,
    )  # fmt: skip
    assert (rows[12]["process.command_line"], rows[12]["host.name"]) == (
        "rm -f /var/log/*.log", "esx01",
    )  # fmt: skip
    assert rows[13]["event.action"] == "ssh-enabled"  # behind a collector's RFC 3164 header
    assert rows[14]["event.severity"] == 3  # Er(163)


def test_rfc5424_copies_keep_hostd_structured_data() -> None:
    """ESXi 8 sends hostd's ``[Originator@6876 ...]`` as RFC 5424 structured data; a
    collector's RFC 3339 or RFC 3164 header before the ESXi line is read too."""
    rows, rejects = parsed("forwarded_rfc5424.log")
    assert rejects == []
    task = rows[1]
    assert (task["event.action"], task["user.name"], task["host.name"]) == (
        "vm-power-off", "root", "esx01",
    )  # fmt: skip
    assert (task["extra"]["opID"], task["extra"]["vm_id"]) == ("esxcli-8c-2f1a", "12")
    assert rows[2]["process.command_line"] == "vim-cmd vmsvc/power.off 12"
    assert rows[3]["event.action"] == rows[5]["event.action"] == "ssh-enabled"
    assert (rows[4]["event.action"], rows[4]["source.ip"]) == ("login", "10.0.0.50")
    assert rows[5]["@timestamp"] == utc_of("2023-02-03T10:11:17+00:00")
    # a year-less collector header is read in the source's zone (JST here)
    assert rows[6]["@timestamp"] == utc_of("2023-02-03T19:11:18+09:00")
    assert rows[6]["process.command_line"].startswith("esxcli vm process kill")


def test_a_hostd_log_that_starts_inside_an_object_dump() -> None:
    """hostd writes objects over many ``-->`` lines; a rotated file can begin with more of
    them than of timed lines and is still hostd's."""
    assert FORMAT.sniff(text_sample(FOLDER / "hostd_dump_first.log"))
    rows, rejects = parsed("hostd_dump_first.log")
    assert sorted(rows) == [1, 33]
    assert len(rejects) == 31 and {r for _, r in rejects} == {
        "continuation of the previous record (no time of its own)"
    }
