"""Security events of the two servers whose logs were collected: FS01 (file shares) and DC01.

FS01 maps the share by address (``\\\\10.0.0.20\\share`` in the logon script), so its
network logons are NTLM and carry the client's WorkstationName; DC01 sees Kerberos. In
some seeds the logon script maps ``\\\\FS01\\share`` by name instead: FS01's logons are
then Kerberos, whose 4624 has no WorkstationName ("-"), and only DHCP (and the DC's
machine-account tickets) say which PC an address was.
5140/5145/4663 exist only when auditing is on (``audit=True``): 5145 needs "Detailed File
Share", 4663 a SACL on D:\\share.
"""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

from ashiato.lab.context import Ctx
from ashiato.lab.ids import rng_for
from ashiato.lab.share import NAME, ROOT
from ashiato.lab.world import DOMAIN, DOMAIN_SID, NETBIOS, Host

FS = "fs01"
DC = "dc01"
REALM = DOMAIN.upper()

READ = 0x120089
WRITE = 0x12019F
DELETE = 0x110080
LIST = 0x100081
_BITS = ((0x1, "%%4416"), (0x2, "%%4417"), (0x4, "%%4418"), (0x8, "%%4419"), (0x10, "%%4420"),
         (0x20, "%%4421"), (0x40, "%%4422"), (0x80, "%%4423"), (0x100, "%%4424"),
         (0x10000, "%%1537"), (0x20000, "%%1538"), (0x40000, "%%1539"), (0x80000, "%%1540"),
         (0x100000, "%%1541"))


def access_list(mask: int) -> str:
    # Windows separates the codes with newlines and tabs; spaces keep one event per line.
    return " ".join(code for bit, code in _BITS if mask & bit)


@dataclass(slots=True)
class Session:
    """An SMB session on FS01: who, from where, and the logon id tying events together."""

    user: str
    sid: str
    ip: str
    port: int
    workstation: str
    logon_id: str


@functools.cache
def share_by_name(seed: int) -> bool:
    """Does this seed's logon script map the share by name (Kerberos to FS01)?"""
    return rng_for(seed, "share-mapping").random() < 0.5


def fs_logon(ctx: Ctx, ts: int, user: str, sid: str, ip: str, workstation: str,
             rng: random.Random) -> Session:
    s = Session(user, sid, ip, ctx.port(), workstation,
                f"0x{rng.randint(0x100000, 0x7FFFFFF):x}")
    if share_by_name(ctx.seed):
        auth = {"LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos",
                "WorkstationName": "-", "LmPackageName": "-", "KeyLength": "0"}
    else:
        auth = {"LogonProcessName": "NtLmSsp ", "AuthenticationPackageName": "NTLM",
                "WorkstationName": workstation, "LmPackageName": "NTLM V2", "KeyLength": "128"}
    ctx.emit(FS, ts, {"id": 4624, "pid": 508, "data": {
        "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-",
        "SubjectLogonId": "0x0", "TargetUserSid": sid, "TargetUserName": user,
        "TargetDomainName": NETBIOS, "TargetLogonId": s.logon_id, "LogonType": "3",
        "LogonProcessName": auth["LogonProcessName"],
        "AuthenticationPackageName": auth["AuthenticationPackageName"],
        "WorkstationName": auth["WorkstationName"],
        "LogonGuid": "{00000000-0000-0000-0000-000000000000}",
        "TransmittedServices": "-", "LmPackageName": auth["LmPackageName"],
        "KeyLength": auth["KeyLength"],
        "ProcessId": "0x0", "ProcessName": "-", "IpAddress": ip, "IpPort": str(s.port)}})
    if ctx.audit:
        ctx.emit(FS, ts + 15, {"id": 5140, "data": {
            **_subject(s), "ObjectType": "File", "IpAddress": ip, "IpPort": str(s.port),
            "ShareName": f"\\\\*\\{NAME}", "ShareLocalPath": f"\\??\\{ROOT}",
            "AccessMask": "0x1", "AccessList": "%%4416"}})
    return s


def fs_logoff(ctx: Ctx, ts: int, s: Session) -> None:
    ctx.emit(FS, ts, {"id": 4634, "data": {
        "TargetUserSid": s.sid, "TargetUserName": s.user, "TargetDomainName": NETBIOS,
        "TargetLogonId": s.logon_id, "LogonType": "3"}})


def _subject(s: Session) -> dict[str, str]:
    return {"SubjectUserSid": s.sid, "SubjectUserName": s.user, "SubjectDomainName": NETBIOS,
            "SubjectLogonId": s.logon_id}


def fs_access(ctx: Ctx, ts: int, s: Session, rel: str, mask: int) -> None:
    """5145 for a path relative to the share; 4663 too for writes and deletes."""
    if not ctx.audit:
        return
    ctx.emit(FS, ts, {"id": 5145, "data": {
        **_subject(s), "ObjectType": "File", "IpAddress": s.ip, "IpPort": str(s.port),
        "ShareName": f"\\\\*\\{NAME}", "ShareLocalPath": f"\\??\\{ROOT}",
        "RelativeTargetName": rel, "AccessMask": f"0x{mask:x}", "AccessList": access_list(mask),
        "AccessReason": "-"}})
    if mask & (0x2 | 0x10000):
        used = 0x10000 if mask & 0x10000 and not mask & 0x2 else 0x2
        ctx.emit(FS, ts + 2, {"id": 4663, "data": {
            **_subject(s), "ObjectServer": "Security", "ObjectType": "File",
            "ObjectName": f"{ROOT}\\{rel}", "HandleId": f"0x{(ts // 7) % 0xFFFF:x}",
            "AccessList": access_list(used), "AccessMask": f"0x{used:x}", "ProcessId": "0x4",
            "ProcessName": ""}})


def _ip6(ip: str) -> str:
    return f"::ffff:{ip}"


def dc_tgt(ctx: Ctx, ts: int, account: str, sid: str, ip: str, rng: random.Random) -> None:
    ctx.emit(DC, ts, {"id": 4768, "pid": 572, "data": {
        "TargetUserName": account, "TargetDomainName": NETBIOS, "TargetSid": sid,
        "ServiceName": "krbtgt", "ServiceSid": f"{DOMAIN_SID}-502", "TicketOptions": "0x40810010",
        "Status": "0x0", "TicketEncryptionType": "0x12", "PreAuthType": "2",
        "IpAddress": _ip6(ip), "IpPort": str(rng.randint(49152, 65535)), "CertIssuerName": "",
        "CertSerialNumber": "", "CertThumbprint": ""}})


def dc_tgs(ctx: Ctx, ts: int, account: str, service: str, ip: str, rng: random.Random) -> None:
    ctx.emit(DC, ts, {"id": 4769, "pid": 572, "data": {
        "TargetUserName": f"{account}@{REALM}", "TargetDomainName": REALM,
        "ServiceName": service, "ServiceSid": f"{DOMAIN_SID}-{1000 + len(service)}",
        "TicketOptions": "0x40810000", "TicketEncryptionType": "0x12",
        "IpAddress": _ip6(ip), "IpPort": str(rng.randint(49152, 65535)), "Status": "0x0",
        "LogonGuid": "{" + f"{rng.getrandbits(32):08X}-0000-0000-0000-000000000000" + "}",
        "TransmittedServices": "-"}})


def dc_logon(ctx: Ctx, ts: int, account: str, sid: str, ip: str, rng: random.Random) -> None:
    ctx.emit(DC, ts, {"id": 4624, "pid": 572, "data": {
        "SubjectUserSid": "S-1-0-0", "SubjectUserName": "-", "SubjectDomainName": "-",
        "SubjectLogonId": "0x0", "TargetUserSid": sid, "TargetUserName": account,
        "TargetDomainName": NETBIOS, "TargetLogonId": f"0x{rng.randint(0x100000, 0x7FFFFFF):x}",
        "LogonType": 3, "LogonProcessName": "Kerberos", "AuthenticationPackageName": "Kerberos",
        "WorkstationName": "-", "LogonGuid": "{00000000-0000-0000-0000-000000000000}",
        "TransmittedServices": "-", "LmPackageName": "-", "KeyLength": 0, "ProcessId": "0x0",
        "ProcessName": "-", "IpAddress": ip, "IpPort": str(rng.randint(49152, 65535))}})


def machine_boot(ctx: Ctx, ts: int, host: Host, ip: str, rng: random.Random) -> None:
    """The computer account authenticates at boot: a host-to-address record on the DC."""
    sid = f"{DOMAIN_SID}-{host.rid}"
    dc_tgt(ctx, ts, f"{host.name}$", sid, ip, rng)
    dc_logon(ctx, ts + 90, f"{host.name}$", sid, ip, rng)


def user_logon(ctx: Ctx, ts: int, host: Host, ip: str, rng: random.Random) -> None:
    u = host.user
    dc_tgt(ctx, ts, u.sam, u.sid, ip, rng)
    dc_tgs(ctx, ts + 60, u.sam, "DC01$", ip, rng)
    dc_logon(ctx, ts + 140, u.sam, u.sid, ip, rng)
