from __future__ import annotations

import pyarrow as pa

from ashiato.normalize import finalize_batch, host_key, host_keys
from ashiato.schema import batch_from_columns


def test_host_keys_join_fqdn_short_and_domain_forms() -> None:
    names = ["PC-TKY-0341.corp.example.jp", "CORP\\PC-TKY-0341", "\\\\PC-TKY-0341",
             "pc-tky-0341$", "10.20.3.41", "fe80::1", None, ""]
    expect = ["pc-tky-0341"] * 4 + ["10.20.3.41", "fe80::1", None, None]
    assert host_keys(pa.array(names, pa.string())).to_pylist() == expect
    assert [host_key(n) for n in names] == expect


def test_finalize_derives_file_url_and_keeps_original_host() -> None:
    b = batch_from_columns({
        "host.hostname": ["FS01.corp.example.jp"],
        "file.path": ["D:\\share\\営業\\見積\\27p9k967z.X1NEP"],
        "url.original": ["http://QZX7.redirect.example:8080/gate.php?id=1"],
        "dns.question.name": ["IP-ADDR.es."],
    }, 1)
    row = finalize_batch(b, "ev1", "test.x").to_pylist()[0]
    assert row["host.name"] == "fs01"
    assert row["host.hostname"] == "FS01.corp.example.jp"
    assert row["file.name"] == "27p9k967z.X1NEP"
    assert row["file.extension"] == "x1nep"
    assert row["file.directory"] == "D:\\share\\営業\\見積"
    assert row["url.domain"] == "qzx7.redirect.example"
    assert row["dns.question.name"] == "ip-addr.es"
    assert row["evidence_id"] == "ev1"
    assert row["event.dataset"] == "test.x"


def test_host_keys_of_a_log_naming_few_hosts_over_many_rows() -> None:
    # worked out per distinct name (a log names a handful of hosts over its rows): the
    # same keys, nulls and order as the rule per row, whole arrays and chunked ones
    names = ["DC01.corp.local", None, "CORP\\PC-01", " 10.0.0.5 ", "", "WS$", "fe80::1", "PC-01"]
    rows = [names[(i * 7) % len(names)] for i in range(400)]
    expect = [host_key(n) for n in rows]
    assert host_keys(pa.array(rows, pa.string())).to_pylist() == expect
    chunked = pa.chunked_array([pa.array(rows[:150], pa.string()), pa.array(rows[150:])])
    assert host_keys(chunked).to_pylist() == expect
    assert host_keys(pa.array([None] * 50, pa.string())).to_pylist() == [None] * 50
