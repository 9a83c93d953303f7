"""FortiGate key=value logs behind an RFC 3164 envelope (domain.md 3.3).

FortiGate sends ``date=... time=...`` with no syslog header of its own; the collector
(rsyslog) prepends its receive time and the device name. So the envelope carries the
collector's correct clock while ``date``/``time`` carry the device's, which may be skewed:
exactly the pair a responder uses to measure the skew. Newer firmware adds ``eventtime``
and ``tz``; older boxes do not.
"""

from __future__ import annotations

from ashiato.lab.clock import MS, jst_date_time, syslog_jst
from ashiato.lab.sink import Data, StreamState

_LOGID = {"traffic": "0000000013", "ips": "0419016384", "virus": "0211008192"}
# SSL-VPN user events (FortiOS log reference, type="event" subtype="vpn").
_VPN = {
    "ssl-login-fail": ("0101039426", "alert", "SSL VPN login fail",
                       "SSL user failed to logged in"),
    "tunnel-up": ("0101039424", "information", "SSL VPN tunnel up", "SSL tunnel established"),
    "tunnel-down": ("0101039425", "information", "SSL VPN tunnel down",
                    "SSL tunnel shutdown"),
}


def _q(v: object) -> str:
    return f'"{v}"'


def render(st: StreamState, ts: int, e: Data) -> str:
    spec = st.spec
    true_ts = ts - spec.skew_ms
    d, t = jst_date_time(ts)
    kind = e["kind"]
    if kind == "vpn":
        return f"{syslog_jst(true_ts)} {spec.device} " + _vpn(spec.device, d, t, ts,
                                                              spec.zone_in_record, e)
    parts = [f"date={d}", f"time={t}", f"devname={_q(spec.device)}",
             f"devid={_q(_devid(spec.device))}",
             f"logid={_q(_LOGID[kind])}"]
    if kind == "traffic":
        parts += ['type="traffic"', 'subtype="forward"', 'level="notice"', 'vd="root"']
    elif kind == "ips":
        parts += ['type="utm"', 'subtype="ips"', 'eventtype="signature"', 'level="alert"',
                  'vd="root"']
    else:
        parts += ['type="utm"', 'subtype="virus"', 'eventtype="infected"', 'level="warning"',
                  'vd="root"']
    if spec.zone_in_record:  # newer firmware
        parts += [f"eventtime={ts // MS}", 'tz="+0900"']
    if kind == "traffic":
        sid = st.scratch.get("session", 880000 + len(spec.device) * 7919) + 1
        st.scratch["session"] = sid
        parts += [
            f"srcip={e['srcip']}", f"srcport={e['srcport']}", f"srcintf={_q(e['srcintf'])}",
            f"dstip={e['dstip']}", f"dstport={e['dstport']}", f"dstintf={_q(e['dstintf'])}",
            f"sessionid={sid}", f"proto={e.get('proto', 6)}", f"action={_q(e['action'])}",
            f"policyid={e['policyid']}", f"service={_q(e['service'])}",
            f"dstcountry={_q(e['dstcountry'])}",
            f"srccountry={_q(e.get('srccountry', 'Reserved'))}",
        ]
        if e.get("tranip"):  # destination NAT: a virtual IP forwarded to a server inside
            parts += ['trandisp="dnat"', f"tranip={e['tranip']}", f"tranport={e['tranport']}"]
        elif e.get("transip"):
            parts += ['trandisp="snat"', f"transip={e['transip']}", f"transport={e['transport']}"]
        else:
            parts += ['trandisp="noop"']
        parts += [f"duration={e['duration']}", f"sentbyte={e['sentbyte']}",
                  f"rcvdbyte={e['rcvdbyte']}", f"sentpkt={e['sentbyte'] // 1200 + 3}",
                  f"rcvdpkt={e['rcvdbyte'] // 1400 + 2}"]
        if e.get("app"):
            parts += [f"app={_q(e['app'])}", f"appid={e.get('appid', 0)}"]
        if e.get("appcat"):
            parts.append(f"appcat={_q(e['appcat'])}")
        if e.get("hostname"):
            parts.append(f"hostname={_q(e['hostname'])}")
    else:
        sid = st.scratch.get("session", 880000 + len(spec.device) * 7919)  # session in flight
        parts += [f"severity={_q(e['severity'])}", f"srcip={e['srcip']}", f"dstip={e['dstip']}",
                  f"sessionid={sid}", f"action={_q(e['action'])}", "proto=6",
                  f"service={_q(e['service'])}"]
        if kind == "ips":
            parts += [f"attack={_q(e['attack'])}", f"srcport={e['srcport']}",
                      f"dstport={e['dstport']}", f"direction={_q(e['direction'])}",
                      f"attackid={e['attackid']}", 'profile="default"',
                      f"hostname={_q(e['hostname'])}", f"url={_q(e['url'])}",
                      f"msg={_q(e['msg'])}"]
        else:
            parts += [f"srcport={e['srcport']}", f"dstport={e['dstport']}",
                      'direction="incoming"', f"filename={_q(e['filename'])}",
                      f"virus={_q(e['virus'])}", f"url={_q(e['url'])}",
                      f"msg={_q('File is infected.')}"]
    return f"{syslog_jst(true_ts)} {spec.device} " + " ".join(parts)


def _devid(device: str) -> str:
    # A stable serial per box, e.g. FG100D3G15800001 for FG-TOKYO.
    n = sum(map(ord, device)) % 9000 + 1000
    return f"FG100D3G1580{n}"



def _vpn(device: str, d: str, t: str, ts: int, zoned: bool, e: Data) -> str:
    logid, level, desc, msg = _VPN[e["action"]]
    parts = [f"date={d}", f"time={t}", f"devname={_q(device)}", f"devid={_q(_devid(device))}",
             f"logid={_q(logid)}", 'type="event"', 'subtype="vpn"', f"level={_q(level)}",
             'vd="root"']
    if zoned:
        parts += [f"eventtime={ts // MS}", 'tz="+0900"']
    parts += [f"logdesc={_q(desc)}", f"action={_q(e['action'])}",
              f"tunneltype={_q(e.get('tunneltype', 'ssl-tunnel'))}",
              f"tunnelid={e.get('tunnelid', 0)}", f"remip={e['remip']}"]
    if e.get("tunnelip"):
        parts.append(f"tunnelip={e['tunnelip']}")
    parts += [f"user={_q(e['user'])}", f"group={_q(e.get('group', 'N/A'))}",
              'dst_host="N/A"', f"reason={_q(e.get('reason', 'N/A'))}"]
    if e["action"] == "tunnel-down":
        parts += [f"duration={e['duration']}", f"sentbyte={e['sentbyte']}",
                  f"rcvdbyte={e['rcvdbyte']}"]
    if zoned and e.get("srccountry"):
        parts.append(f"srccountry={_q(e['srccountry'])}")
    parts.append(f"msg={_q(msg)}")
    return " ".join(parts)
