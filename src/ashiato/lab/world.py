"""The simulated company: corp.example.jp, its sites, people, PCs and servers.

The world depends on (seed, scale) only, never on the scenario, so the same seed gives the
same company in every scenario and a benign run is a fair baseline for an incident run.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field

from ashiato.lab.ids import hex_id, rng_for

DOMAIN = "corp.example.jp"
NETBIOS = "CORP"
DOMAIN_SID = "S-1-5-21-1004336348-1177238915-682003330"
# The company's one public address: FG-TOKYO source-NATs all outbound traffic to it and
# forwards TCP/25 to mx01. So a spam bot inside gets mx01's mail refused by block lists.
EGRESS_IP = "198.51.100.2"
MX_PUBLIC_IP = EGRESS_IP

DEPARTMENTS = ("営業", "経理", "人事", "総務", "開発")

SURNAMES = (
    "sato", "suzuki", "takahashi", "tanaka", "ito", "watanabe", "yamamoto", "nakamura",
    "kobayashi", "kato", "yoshida", "yamada", "sasaki", "yamaguchi", "matsumoto", "inoue",
    "kimura", "hayashi", "saito", "shimizu", "yamazaki", "mori", "abe", "ikeda", "hashimoto",
    "yamashita", "ishikawa", "nakajima", "maeda", "fujita", "ogawa", "goto", "okada",
    "hasegawa", "murakami", "kondo", "ishii", "sakamoto", "endo", "aoki", "fujii",
    "nishimura", "fukuda", "ota", "miura", "fujiwara", "okamoto", "matsuda", "nakagawa",
    "nakano", "harada", "ono", "tamura", "takeuchi", "kaneko", "wada", "nakayama", "ishida",
    "ueda", "morita",
)
GIVEN = (
    "hiroshi", "takashi", "yuki", "akira", "kenji", "naoko", "yoko", "makoto", "satoshi",
    "tomoko", "kazuya", "emi", "daisuke", "keiko", "shota", "ayumi", "ryo", "mai", "takuya",
    "megumi", "kenta", "yumi", "naoki", "rie", "tsuyoshi", "kaori", "yusuke", "sachiko",
)

IE_UA = {
    8: "Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Trident/4.0)",
    9: "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)",
    11: "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
}


@dataclass(frozen=True, slots=True)
class Site:
    code: str  # TKY, OSK ...
    name: str  # Tokyo ...
    firewall: str  # FG-TOKYO ...
    prefix: str  # "10.20" -> clients in 10.20.0.0/16
    hq: bool
    clients_per_scale: int


SITES = (
    Site("TKY", "Tokyo", "FG-TOKYO", "10.20", True, 8),
    Site("OSK", "Osaka", "FG-OSAKA", "10.31", False, 8),
    Site("NGY", "Nagoya", "FG-NAGOYA", "10.32", False, 8),
    Site("FUK", "Fukuoka", "FG-FUKUOKA", "10.33", False, 8),
    Site("SPR", "Sapporo", "FG-SAPPORO", "10.34", False, 8),
)


@dataclass(frozen=True, slots=True)
class User:
    sam: str
    display: str  # "Tanaka Hiroshi", for mail headers
    dept: str
    rid: int

    @property
    def sid(self) -> str:
        return f"{DOMAIN_SID}-{self.rid}"

    @property
    def account(self) -> str:
        return f"{NETBIOS}\\{self.sam}"

    @property
    def mail(self) -> str:
        return f"{self.sam}@{DOMAIN}"


@dataclass(frozen=True, slots=True)
class Host:
    name: str  # PC-OSK-0112
    site: Site
    user: User
    mac: str  # 00155D012A41
    mobile: bool  # laptops leave and come back, so their address changes within a day
    proxy_auth: bool  # explicit proxy with NTLM: Squid logs the user in the ident column
    ie: int
    rid: int  # the computer account's RID (PC-OSK-0112$)

    @property
    def short(self) -> str:
        return self.name.lower()

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DOMAIN}"

    @property
    def ua(self) -> str:
        return IE_UA[self.ie]


@dataclass(frozen=True, slots=True)
class Server:
    name: str
    ip: str

    @property
    def fqdn(self) -> str:
        return f"{self.name}.{DOMAIN}"


SERVERS = {
    "DC01": Server("DC01", "10.0.0.10"),  # also DNS and DHCP
    "FS01": Server("FS01", "10.0.0.20"),
    "PROXY01": Server("PROXY01", "10.0.0.5"),
    "MAIL01": Server("MAIL01", "10.0.0.30"),
    "BKUP01": Server("BKUP01", "10.0.0.40"),
    "mx01": Server("mx01", "10.0.1.25"),
}
BACKUP_ACCOUNT = "svc_backup"


@dataclass(slots=True)
class World:
    seed: int
    scale: int
    days: int
    sites: tuple[Site, ...]
    users: list[User]
    hosts: list[Host]
    pools: dict[str, list[str]] = field(default_factory=dict)  # site code -> DHCP pool

    def hosts_at(self, site: Site) -> list[Host]:
        return [h for h in self.hosts if h.site is site]

    def host(self, short: str) -> Host:
        for h in self.hosts:
            if h.short == short:
                return h
        raise KeyError(short)

    def site(self, code: str) -> Site:
        return next(s for s in self.sites if s.code == code)


def days_for(scale: int) -> int:
    """5 weekdays at scale 1; every extra scale step adds two days (weekends included)."""
    return 5 + 2 * (scale - 1)


def _user_names(rng: random.Random, n: int) -> list[tuple[str, str]]:
    """Unique sAMAccountNames: the surname first, ``surname.given`` when it is taken."""
    taken: set[str] = set()
    out: list[tuple[str, str]] = []
    for _ in range(n):
        sur, giv = rng.choice(SURNAMES), rng.choice(GIVEN)
        candidates = itertools.chain((sur, f"{sur}.{giv}"),
                                     (f"{sur}.{giv}{k}" for k in itertools.count(2)))
        sam = next(c for c in candidates if c not in taken)
        taken.add(sam)
        out.append((sam, f"{sur.capitalize()} {giv.capitalize()}"))
    return out


def _pool(site: Site, n_hosts: int) -> list[str]:
    """Client addresses handed out by DHCP: .20-.249 of consecutive /24s from x.y.3.0.

    The pool is only ~30 % larger than the number of PCs, so addresses are reused by
    other PCs from one day to the next (the point of the DHCP exercise).
    """
    size = n_hosts + max(6, n_hosts * 3 // 10)
    out: list[str] = []
    third = 3
    while len(out) < size:
        for last in range(20, 250):
            out.append(f"{site.prefix}.{third}.{last}")
            if len(out) == size:
                break
        third += 1
    return out


def build_world(seed: int, scale: int) -> World:
    rng = rng_for(seed, "world", scale)
    n_total = sum(s.clients_per_scale * scale for s in SITES)
    names = _user_names(rng, n_total)
    users: list[User] = []
    hosts: list[Host] = []
    i = 0
    for site in SITES:
        n = site.clients_per_scale * scale
        numbers = sorted(rng.sample(range(1, 10000), n))
        depts = DEPARTMENTS if site.hq else ("営業", "営業", "総務", "経理")
        for num in numbers:
            sam, display = names[i]
            user = User(sam, display, rng.choice(depts), 1104 + i)
            users.append(user)
            hosts.append(Host(
                name=f"PC-{site.code}-{num:04d}", site=site, user=user,
                mac="00155D" + hex_id(rng, 6), mobile=rng.random() < 0.15,
                proxy_auth=site.hq and rng.random() < 0.7, ie=rng.choice((8, 9, 9, 11, 11)),
                rid=6100 + i,
            ))
            i += 1
    world = World(seed, scale, days_for(scale), SITES, users, hosts)
    for site in SITES:
        world.pools[site.code] = _pool(site, len(world.hosts_at(site)))
    return world
