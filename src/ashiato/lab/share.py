"""The ``share`` share on FS01 (D:\\share): its folder tree, and its state as the days pass.

Activities mutate the state as they run (users save files, the renamer renames, the
ransomware replaces files); the post-incident listing is written from the final state, so
the listing and the audit events can never disagree.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass

from ashiato.lab.clock import DAY, at
from ashiato.lab.world import DEPARTMENTS, World

ROOT = "D:\\share"
NAME = "share"
ADMINS = "BUILTIN\\Administrators"

# Subfolders per department and file-name templates. Several names carry CP932 "dame-moji"
# (表, ソ, 能: trail byte 0x5C) on purpose: parsers must decode before splitting paths.
TREE: dict[str, dict[str, tuple[str, ...]]] = {
    "営業": {
        "見積": ("見積書_{y}Q{q}.xlsx", "見積書_{c}_{ym}.xlsx", "見積依頼_{c}.pdf"),
        "受注": ("注文書_{c}_{ym}.pdf", "受注一覧_{ym}.xlsx"),
        "顧客": ("顧客リスト_{y}.xlsx", "訪問記録_{c}.docx", "名刺_{c}.jpg"),
        "提案書": ("提案書_{c}_v{v}.pptx", "製品紹介_{y}.pptx"),
        "月報": ("営業月報_{ym}.xlsx", "予定表_{ym}.xlsx"),
    },
    "経理": {
        "請求書": ("請求書_{c}_{ym}.pdf", "請求一覧_{ym}.xlsx"),
        "支払": ("支払予定表_{ym}.xlsx", "振込依頼_{ym}.csv"),
        "決算": ("決算資料_{y}.xlsx", "貸借対照表_{y}.xlsx", "損益計算書_{y}.xlsx"),
        "経費精算": ("経費精算_{n}_{ym}.xlsx", "交通費_{ym}.xlsx"),
    },
    "人事": {
        "採用": ("採用計画_{y}.pptx", "応募者一覧_{ym}.xlsx", "面接評価_{n}.docx"),
        "評価": ("能力評価_{y}_{n}.xlsx", "目標管理_{y}.docx"),
        "勤怠": ("勤怠_{ym}.xlsx", "休暇申請_{n}.pdf"),
        "研修": ("新人研修_{y}.pptx", "研修報告_{n}.docx"),
    },
    "総務": {
        "規程": ("就業規則_v{v}.pdf", "旅費規程.docx", "情報セキュリティ規程_v{v}.docx"),
        "備品": ("備品台帳_{y}.xlsx", "発注書_{ym}.pdf"),
        "議事録": ("議事録_{md}.docx", "部長会議_{md}.docx"),
        "社内行事": ("懇親会_{y}.xlsx", "写真_{md}_{n}.jpg"),
    },
    "開発": {
        "設計書": ("基本設計書_v{v}.docx", "詳細設計_{c}.docx", "画面一覧表.xlsx"),
        "仕様書": ("仕様書_{c}_v{v}.docx", "要件定義_{y}.xlsx"),
        "ソフト": ("build_{ymd}.zip", "リリースノート_v{v}.txt", "設定ファイル_{n}.csv"),
        "テスト": ("試験成績書_{ym}.xlsx", "不具合一覧_{ym}.xlsx"),
    },
}
CUSTOMERS = ("サンプル商事", "山田工業", "東邦物産", "北斗電機", "青葉建設", "みなと運輸",
             "さくら食品", "富士精機", "大和システム", "光洋産業", "若葉製薬", "白山電子")
_SIZES = {  # (min, max) bytes per extension
    "xlsx": (14_000, 420_000), "docx": (18_000, 650_000), "pdf": (40_000, 3_200_000),
    "pptx": (180_000, 8_500_000), "jpg": (90_000, 4_100_000), "csv": (2_000, 90_000),
    "txt": (600, 12_000), "zip": (500_000, 12_000_000),
}
_HISTORY_START = at(-890, 9)  # files go back to spring 2013


def size_for(name: str, rng: random.Random) -> int:
    lo, hi = _SIZES.get(name.rsplit(".", 1)[-1].lower(), (10_000, 200_000))
    return int(lo * (hi / lo) ** rng.random())  # log-uniform: many small, a few big


@dataclass(slots=True)
class FileEntry:
    name: str
    size: int
    ctime: int
    mtime: int
    owner: str  # CORP\tanaka or BUILTIN\Administrators


@dataclass(slots=True)
class Folder:
    ctime: int
    mtime: int
    files: dict[str, FileEntry]


class Share:
    """Folders keyed by path relative to the share root (``営業\\見積``)."""

    def __init__(self) -> None:
        self.folders: dict[str, Folder] = {}
        self.folder_list: list[str] = []  # stable order for random choices

    def add_folder(self, rel: str, ts: int) -> None:
        if rel not in self.folders:
            self.folders[rel] = Folder(ts, ts, {})
            self.folder_list.append(rel)

    def add(self, folder: str, entry: FileEntry, ts: int) -> None:
        f = self.folders[folder]
        f.files[entry.name] = entry
        f.mtime = max(f.mtime, ts)

    def remove(self, folder: str, name: str, ts: int) -> FileEntry:
        f = self.folders[folder]
        f.mtime = max(f.mtime, ts)
        return f.files.pop(name)

    def pick(self, rng: random.Random, depts: tuple[str, ...] | None = None
             ) -> tuple[str, FileEntry] | None:
        """A random existing file, optionally inside some departments' folders."""
        folders = self.folder_list
        if depts is not None:
            folders = [p for p in folders if p.split("\\", 1)[0] in depts]
        for _ in range(8):  # folders can be empty (renamed away, encrypted); retry a little
            rel = rng.choice(folders)
            files = self.folders[rel].files
            if files:
                return rel, files[rng.choice(list(files))]
        return None

    def total_bytes(self) -> int:
        return sum(e.size for f in self.folders.values() for e in f.files.values())

    def walk(self) -> Iterator[tuple[str, Folder]]:
        """Folders in ``Get-ChildItem -Recurse`` order: a folder's files, then each subfolder."""
        children: dict[str, list[str]] = {}
        for rel in self.folders:
            parent = rel.rpartition("\\")[0]
            children.setdefault(parent, []).append(rel)

        def rec(rel: str) -> Iterator[tuple[str, Folder]]:
            yield rel, self.folders[rel]
            for sub in sorted(children.get(rel, ()), key=str.upper):
                yield from rec(sub)

        for top in sorted(children.get("", ()), key=str.upper):
            yield from rec(top)


def fill_name(template: str, rng: random.Random, n: int) -> str:
    y = rng.choice((2013, 2014, 2015))
    m = rng.randint(1, 12)
    return template.format(
        y=y, q=rng.randint(1, 4), ym=f"{y}{m:02d}", md=f"{m:02d}{rng.randint(1, 28):02d}",
        ymd=f"{y}{m:02d}{rng.randint(1, 28):02d}", c=rng.choice(CUSTOMERS), v=rng.randint(1, 9),
        n=f"{n:03d}",
    )


def build_share(world: World, rng: random.Random) -> Share:
    """The share as it stood on the morning of day 0."""
    share = Share()
    owners: dict[str, list[str]] = {d: [] for d in DEPARTMENTS}
    for u in world.users:
        owners[u.dept].append(u.account)
    t0 = at(0, 0)
    for dept in DEPARTMENTS:
        share.add_folder(dept, _HISTORY_START)
        for sub, templates in TREE[dept].items():
            top = f"{dept}\\{sub}"
            share.add_folder(top, _HISTORY_START + rng.randint(0, 60) * DAY)
            leaves = [top]
            # Larger companies keep per-customer or per-year folders below each subfolder.
            for k in range(world.scale - 1):
                leaf = CUSTOMERS[k % len(CUSTOMERS)] + ("" if k < len(CUSTOMERS) else f"_{k}")
                leaves.append(f"{top}\\{leaf}")
            for leaf in leaves:
                share.add_folder(leaf, share.folders[top].ctime + rng.randint(0, 200) * DAY)
                for n in range(rng.randint(8, 14)):
                    name = fill_name(rng.choice(templates), rng, n + 1)
                    if name in share.folders[leaf].files:
                        continue
                    ctime = rng.randint(share.folders[leaf].ctime, t0 - DAY)
                    mtime = rng.randint(ctime, t0 - DAY // 2)
                    pool = owners[dept]
                    owner = rng.choice(pool) if pool and rng.random() > 0.1 else ADMINS
                    share.add(leaf, FileEntry(name, size_for(name, rng), ctime, mtime, owner),
                              mtime)
    # A generic readme.txt a developer left next to an internal tool: harmless, note-like name.
    tools = "開発\\ツール"
    share.add_folder(tools, at(-120, 10))
    dev = owners["開発"][0] if owners["開発"] else ADMINS
    share.add(tools, FileEntry("readme.txt", 2_311, at(-120, 10, 5), at(-40, 16, 2), dev),
              at(-40, 16, 2))
    share.add(tools, FileEntry("logcheck.exe", 88_576, at(-120, 10, 6), at(-120, 10, 6), dev),
              at(-120, 10, 6))
    return share
