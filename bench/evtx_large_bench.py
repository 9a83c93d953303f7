"""One large EVTX, spliced from the real chunks of the public samples, through ingest.

    python bench/evtx_large_bench.py                # ~256 MB
    python bench/evtx_large_bench.py --mb 1024      # a 1 GB Security.evtx-sized file

An EVTX file is a 4096-byte header followed by 64 KiB chunks, and each chunk is
self-contained (its own string and template tables), so the valid chunks of the public
samples (every chunk that the `evtx` package reads alone without an error) are repeated
until the chosen size and given a new file header (chunk count and CRC32 fixed). Then, in
the same run, in child processes:

  evtx       iterating `evtx.PyEvtxParser(path).records_json()` and decoding each
             record's JSON: the bare parser, the floor for any Python EVTX reader
  ingest     `python -m ashiato ingest CASE FILE` into a fresh case, once in one process
             and once with the worker process (ASHIATO_EVTX_WORKER=never / always)

It prints records/s, the ratio of ingest's records/s to the bare parser's and the peak
RSS of each run's whole process tree (psutil, sampled every 20 ms), and the CPU seconds
of each (user + sys, worker processes included): on a loaded machine wall times swing
with the load, CPU seconds much less. The three runs are repeated ``--rounds`` times,
interleaved, and the ratio is the median of each round's own. Goal (issue 14):
ingest >= 50 % of the bare parser's records/s, peak RSS < 1 GB.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import struct
import sys
import tempfile
import zlib
from pathlib import Path

from _measure import run

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
HEADER = 4096
CHUNK = 65536

_BASELINE = """
import sys, orjson, evtx
n = 0
records = evtx.PyEvtxParser(sys.argv[1]).records_json()
while True:
    try:
        rec = next(records)
    except StopIteration:
        break
    except Exception:
        continue
    orjson.loads(rec["data"])
    n += 1
print(n)
"""


def _chunk_ok(header: bytes, chunk: bytes, tmp: Path) -> int:
    """Records the package reads from this chunk alone (0 when any of it fails)."""
    import evtx

    probe = tmp / "probe.evtx"
    probe.write_bytes(_file_header(header, 1) + chunk)
    n = 0
    try:
        for _ in evtx.PyEvtxParser(str(probe)).records_json():
            n += 1
    except Exception:
        return 0
    return n


def _file_header(template: bytes, chunks: int) -> bytes:
    """A file header for ``chunks`` chunks: first/last chunk numbers, chunk count, no
    dirty flag, CRC32 of the first 120 bytes (the documented layout)."""
    h = bytearray(template[:HEADER])
    struct.pack_into("<QQ", h, 8, 0, chunks - 1)
    struct.pack_into("<H", h, 42, min(chunks, 0xFFFF))
    struct.pack_into("<I", h, 120, 0)  # flags: clean, not full
    struct.pack_into("<I", h, 124, zlib.crc32(bytes(h[:120])))
    return bytes(h)


def splice(target: Path, megabytes: int, tmp: Path) -> None:
    chunks: list[bytes] = []
    header = b""
    for path in sorted(SHARED.rglob("*.evtx")):
        data = path.read_bytes()
        if not data.startswith(b"ElfFile\x00") or len(data) < HEADER + CHUNK:
            continue
        header = header or data[:HEADER]
        for off in range(HEADER, len(data) - CHUNK + 1, CHUNK):
            chunk = data[off : off + CHUNK]
            if chunk.startswith(b"ElfChnk\x00") and _chunk_ok(header, chunk, tmp):
                chunks.append(chunk)
    if not chunks:
        raise SystemExit(f"no readable EVTX chunks under {SHARED}")
    want = min(max(1, megabytes * 1024 * 1024 // CHUNK), 0xFFFF)
    with target.open("wb") as fh:
        fh.write(_file_header(header, want))
        for i in range(want):
            fh.write(chunks[i % len(chunks)])
    print(f"{len(chunks)} distinct valid chunks, {want} written ({target.stat().st_size >> 20} MB)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--mb", type=int, default=256, help="size of the spliced file")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of the three runs")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ashiato-evtx-large-"))
    try:
        big = work / "Security.evtx"
        splice(big, args.mb, work)
        print(f"{os.cpu_count()} CPUs, load {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
        # this machine's speed drifts by tens of percent within minutes: each round runs
        # the bare parser and both ingests back to back, and each ingest is measured
        # against the bare parser of its own round
        rounds: list[dict[str, tuple[float, float, int]]] = []
        records = 0
        for _ in range(max(1, args.rounds)):
            t_base, cpu_base, rss_base, out = run([sys.executable, "-c", _BASELINE, str(big)])
            records = int(out.strip())
            runs = {"evtx+json": (t_base, cpu_base, rss_base)}
            for mode in ("never", "always"):
                shutil.rmtree(work / "case", ignore_errors=True)
                env = {**os.environ, "ASHIATO_EVTX_WORKER": mode}
                runs[f"ingest {'1 proc' if mode == 'never' else '2 procs'}"] = run(
                    [sys.executable, "-m", "ashiato", "ingest", str(work / "case"), str(big),
                     "--json"], env)[:3]  # fmt: skip
            rounds.append(runs)
        print(f"{records:,} records, {len(rounds)} round(s)")
        print(f"{'':16}{'seconds':>9}{'records/s':>12}{'CPU s':>8}{'peak RSS':>11}  (each round)")
        for name in rounds[0]:
            for i, r in enumerate(rounds):
                t, cpu, rss = r[name]
                label = name if i == 0 else ""
                print(f"{label:16}{t:9.2f}{records / t:12,.0f}{cpu:8.2f}{rss:8} MB")
        for name in list(rounds[0])[1:]:
            times = [r[name][0] / r["evtx+json"][0] for r in rounds]
            cpus = [r[name][1] / r["evtx+json"][1] for r in rounds]
            rss = max(r[name][2] for r in rounds)
            ratio = statistics.median(times)
            ok = ratio <= 2 and rss < 1024
            print(f"{name}: {1 / ratio:.0%} of the bare parser's records/s ({ratio:.2f}x its "
                  f"time, median of {', '.join(f'{x:.2f}' for x in times)}; "
                  f"{statistics.median(cpus):.2f}x its CPU); goal >= 50 % and < 1 GB: "
                  f"{'met' if ok else 'NOT met'}")  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
