"""The share listing responders exported after the incident (CP932, ja-JP culture times)::

    Get-ChildItem D:\\share -Recurse -File |
      Select-Object FullName,Length,CreationTime,LastWriteTime,
                    @{n='Owner';e={(Get-Acl $_.FullName).Owner}} |
      Export-Csv -Encoding Default share_listing.csv

Windows PowerShell 5.1 writes ``#TYPE`` first and quotes every field; "Default" is the ANSI
code page, CP932 on a Japanese server; times are the server's local time without an offset.
"""

from __future__ import annotations

from pathlib import Path

from ashiato.lab.clock import jst_ja_culture
from ashiato.lab.share import ROOT, Share
from ashiato.lab.writers import csv_line

TYPE_LINE = "#TYPE Selected.System.IO.FileInfo"
HEADER = '"FullName","Length","CreationTime","LastWriteTime","Owner"'


def write(path: Path, share: Share) -> int:
    """Write the listing; returns the number of file rows."""
    n = 0
    with path.open("w", encoding="cp932", newline="\r\n") as f:
        f.write(TYPE_LINE + "\n" + HEADER + "\n")
        for rel, folder in share.walk():
            for name in sorted(folder.files, key=str.upper):
                e = folder.files[name]
                f.write(csv_line((f"{ROOT}\\{rel}\\{name}", e.size, jst_ja_culture(e.ctime),
                                  jst_ja_culture(e.mtime), e.owner), always=True) + "\n")
                n += 1
    return n
