"""A filtered EVTX export as ``evtx_dump -o jsonl`` lines (domain.md 8.3).

What an administrator hands over after "Save Filtered Log File As" or ``wevtutil epl /q:``
over several channels: a few records of each channel, each keeping its original
EventRecordID, so the IDs jump by hundreds or thousands throughout the file. The channels
(System's service changes, Windows PowerShell's engine starts) interleave in one file and
each runs its own ID sequence. Nothing was deleted: the analysis must say "filtered
export", never "records deleted".
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from ashiato.lab.clock import HOUR, MINUTE, at, win_systemtime
from ashiato.lab.writers.winevt import NS

SCM = ("Service Control Manager", "555908d1-a6d7-4695-8e1e-26931d2012f4")
POWERSHELL = ("PowerShell", "")
SERVICES = ("Windows Update", "Background Intelligent Transfer Service", "Print Spooler",
            "Windows Modules Installer", "Software Protection")  # fmt: skip


def write(path: Path, computer: str, days: int, rng: random.Random) -> int:
    """Write the export; return the number of records."""
    system_id = rng.randint(180_000, 260_000)
    ps_id = rng.randint(2_000, 9_000)
    events: list[tuple[int, str]] = []
    for day in range(days):
        for _ in range(rng.randint(2, 4)):
            ts = at(day, rng.randint(7, 20), rng.randint(0, 59), rng.randint(0, 59))
            system_id += rng.randint(150, 3_000)  # everything between was filtered out
            service = rng.choice(SERVICES)
            state = rng.choice(("running", "stopped"))
            events.append((ts, _line(SCM, 7036, "System", computer, ts, system_id, 4,
                                     {"param1": service, "param2": state})))  # fmt: skip
        ts = at(day, 8, rng.randint(0, 59)) + rng.randint(0, MINUTE)
        ps_id += rng.randint(40, 400)
        started: dict[str, object] = {"Data": ["Available", "None", "\tNewEngineState=Available"]}
        events.append((ts, _line(POWERSHELL, 400, "Windows PowerShell", computer, ts, ps_id, 4,
                                 started)))  # fmt: skip
        events.append((ts + HOUR, _line(POWERSHELL, 403, "Windows PowerShell", computer,
                                        ts + HOUR, ps_id + 1, 4,
                                        {"Data": ["Stopped", "Available"]})))  # fmt: skip
        ps_id += 1
    events.sort()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for _, line in events), encoding="utf-8")
    return len(events)


def _line(provider: tuple[str, str], eid: int, channel: str, computer: str, ts: int,
          record: int, level: int, data: dict[str, object]) -> str:  # fmt: skip
    name, guid = provider
    prov: dict[str, object] = {"Name": name, "Guid": guid} if guid else {"Name": name}
    system = {
        "Provider": {"#attributes": prov}, "EventID": eid, "Version": 0, "Level": level,
        "Task": 0, "Opcode": 0, "Keywords": "0x8080000000000000",
        "TimeCreated": {"#attributes": {"SystemTime": win_systemtime(ts)}},
        "EventRecordID": record, "Correlation": None,
        "Execution": {"#attributes": {"ProcessID": 664, "ThreadID": 1288}},
        "Channel": channel, "Computer": computer, "Security": None,
    }  # fmt: skip
    event = {"#attributes": {"xmlns": NS}, "System": system, "EventData": data}
    return json.dumps({"Event": event}, ensure_ascii=False, separators=(",", ":"))
